// What the Create lead section shows, as the browser renders it: its request body fields
// (name → the row's text), its authentication, its curl example, its 201 example and its 409 error example.
(() => {
  const section = document.getElementById('lead_create');
  if (!section) return null;
  const heading = [...section.querySelectorAll('h4')].find(h => h.textContent === 'Request body');
  let list = heading;
  while (list && !list.classList.contains('fields')) list = list.nextElementSibling;
  const fields = {};
  for (const row of list ? list.querySelectorAll(':scope > .field.d0') : []) {
    fields[row.querySelector('.name').textContent] = row.innerText;
  }
  const response = status => [...section.querySelectorAll('details.response')]
    .find(d => d.querySelector('.status').textContent === status);
  const example = status => {
    const found = response(status);
    return found ? [...found.querySelectorAll('pre')].map(pre => pre.textContent).join('\n') : '';
  };
  const curl = section.querySelector('pre.curl');
  return JSON.stringify({
    fields,
    auth: section.querySelector('.auth').innerText,
    curl: curl ? curl.innerText : '',
    created: example('201'),
    conflict: example('409'),
  });
})()
