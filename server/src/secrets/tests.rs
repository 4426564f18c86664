//! Sealing (round trips, a moved or altered secret refused, a wrong key refused, rotation), key
//! files (parsing, making, adding keys), and the secrets at start on each backend: plain
//! secrets sealed and gone from the database file, a wrong key refused, rotation resealing.

use std::path::Path;

use tempfile::TempDir;
use uuid::Uuid;

use super::at_start::{self, Started};
use super::key_file::{self, KeySource, Loaded};
use super::*;
use crate::config::Database;
use crate::domain::{EventType, Subscription};
use crate::store::prelude::*;
use crate::store::sqlite::SqliteStore;
use crate::store::{SecretSelection, SecretSlot, StoredSecret};

fn keyring(keys: &[[u8; KEY_BYTES]]) -> Keyring {
    Keyring::new(keys).expect("keys")
}

#[test]
fn a_sealed_secret_unseals_for_its_subscription_only() {
    let keys = Keyring::generate();
    let secret = SigningSecret::generate();
    let (mine, theirs) = (Uuid::now_v7(), Uuid::now_v7());
    let sealed = keys.seal(mine, &secret).expect("seal");
    assert_eq!(sealed.key_id, keys.sealing_key_id());
    assert!(!sealed.sealed.contains(secret.expose()));
    assert!(!sealed.sealed.contains(&secret.expose()["whsec_".len()..]));
    assert_eq!(keys.unseal(mine, &sealed), Ok(secret.clone()));
    // A fresh nonce every time: the same secret never seals the same way twice.
    assert_ne!(
        keys.seal(mine, &secret).expect("seal").sealed,
        sealed.sealed
    );
    // Copied into another subscription's row, it does not unseal there.
    assert_eq!(
        keys.unseal(theirs, &sealed),
        Err(SealError::Refused(sealed.key_id.clone()))
    );
}

#[test]
fn an_altered_or_malformed_sealed_secret_is_refused() {
    let keys = Keyring::generate();
    let subscription = Uuid::now_v7();
    let sealed = keys
        .seal(subscription, &SigningSecret::generate())
        .expect("seal");
    let mut bytes = URL_SAFE_NO_PAD.decode(&sealed.sealed).expect("base64");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let altered = SealedSecret {
        sealed: URL_SAFE_NO_PAD.encode(&bytes),
        ..sealed.clone()
    };
    assert!(matches!(
        keys.unseal(subscription, &altered),
        Err(SealError::Refused(_))
    ));
    for malformed in ["", "!!", "AQ"] {
        let malformed = SealedSecret {
            sealed: malformed.to_owned(),
            ..sealed.clone()
        };
        assert_eq!(
            keys.unseal(subscription, &malformed),
            Err(SealError::Malformed)
        );
    }
}

#[test]
fn a_wrong_key_is_refused_by_its_id_or_by_the_cipher() {
    let (right, wrong) = (new_key(), new_key());
    let subscription = Uuid::now_v7();
    let sealed = keyring(&[right])
        .seal(subscription, &SigningSecret::generate())
        .expect("seal");
    let wrong = keyring(&[wrong]);
    assert_eq!(
        wrong.unseal(subscription, &sealed),
        Err(SealError::UnknownKey(sealed.key_id.clone()))
    );
    // Labelled as sealed by the wrong key, it still does not unseal: the id is bound too.
    let relabelled = SealedSecret {
        key_id: wrong.sealing_key_id().to_owned(),
        ..sealed
    };
    assert!(matches!(
        wrong.unseal(subscription, &relabelled),
        Err(SealError::Refused(_))
    ));
}

#[test]
fn the_first_key_seals_and_every_key_unseals() {
    let (old, new) = (new_key(), new_key());
    let subscription = Uuid::now_v7();
    let secret = SigningSecret::generate();
    let sealed_by_old = keyring(&[old]).seal(subscription, &secret).expect("seal");
    let rotated = keyring(&[new, old]);
    assert_eq!(
        rotated.unseal(subscription, &sealed_by_old),
        Ok(secret.clone())
    );
    let resealed = rotated.seal(subscription, &secret).expect("seal");
    assert_eq!(resealed.key_id, keyring(&[new]).sealing_key_id());
    assert_eq!(keyring(&[new]).unseal(subscription, &resealed), Ok(secret));
}

#[test]
fn neither_a_keyring_nor_a_key_source_shows_a_key() {
    let key = new_key();
    let encoded = STANDARD.encode(key);
    let shown = format!(
        "{:?} {:?}",
        keyring(&[key]),
        KeySource::Variable(encoded.clone())
    );
    assert!(!shown.contains(&encoded), "{shown}");
    assert!(shown.contains(keyring(&[key]).sealing_key_id()), "{shown}");
}

use base64::engine::general_purpose::STANDARD;

#[test]
fn a_key_file_holds_keys_one_a_line_with_comments_and_errors_never_show_a_key() {
    let (first, second) = (new_key(), new_key());
    let text = format!(
        "# a comment\n\n{}\n  {}  \n",
        STANDARD.encode(first),
        STANDARD.encode(second)
    );
    let keys = key_file::parse(&text).expect("keys");
    assert_eq!(
        keys.key_ids().collect::<Vec<_>>(),
        [key_id(&first), key_id(&second)]
    );
    // The variable's form: separated by commas.
    let variable = format!("{},{}", STANDARD.encode(second), STANDARD.encode(first));
    assert_eq!(
        key_file::parse(&variable).expect("keys").sealing_key_id(),
        key_id(&second)
    );
    let short = STANDARD.encode(&first[..16]);
    for (text, why) in [
        (String::new(), "no key"),
        ("# only a comment\n".to_owned(), "no key"),
        (
            format!("{}\n{short}\n", STANDARD.encode(first)),
            "key 2 is not 32 bytes",
        ),
        (
            format!("{0}\n{0}\n", STANDARD.encode(first)),
            "key 2 appears twice",
        ),
    ] {
        let error = format!("{:#}", key_file::parse(&text).expect_err("refused"));
        assert!(error.contains(why), "{error}");
        assert!(!error.contains(&short) && !error.contains(&STANDARD.encode(first)));
    }
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn generating_makes_a_private_file_and_adds_keys_first_or_last() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("secrets.key");
    let first = key_file::add_key(&file, false).expect("made");
    #[cfg(unix)]
    assert_eq!(mode(&file), 0o600);
    let ids = |file: &Path| {
        key_file::read(file)
            .expect("keys")
            .key_ids()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&file), std::slice::from_ref(&first));
    let newer = key_file::add_key(&file, false).expect("added first");
    let last = key_file::add_key(&file, true).expect("added last");
    assert_eq!(ids(&file), [newer.clone(), first.clone(), last.clone()]);
    #[cfg(unix)]
    assert_eq!(mode(&file), 0o600);
    // Each key keeps the comment naming it.
    let text = std::fs::read_to_string(&file).expect("text");
    for id in [&newer, &first, &last] {
        let comment = text.find(&format!("# key {id}")).expect("its comment");
        assert!(
            text[comment..]
                .lines()
                .nth(1)
                .is_some_and(|line| !line.starts_with('#'))
        );
    }
    // `create` never replaces a file.
    assert!(key_file::create(&file, &new_key()).is_err());
    assert_eq!(ids(&file).len(), 3);
}

#[test]
fn the_default_key_is_made_beside_a_new_sqlite_database_and_required_on_postgres() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let database = Database::Sqlite(dir.path().join("leads.db"));
    let beside = dir.path().join("leads.db.key");
    // Not made while the database holds sealed secrets: no new key could unseal them.
    let error = format!(
        "{:#}",
        key_file::load(&KeySource::Default, &database, false).expect_err("refused")
    );
    assert!(error.contains("leads.db.key is missing"), "{error}");
    assert!(!beside.exists());
    let (made, loaded) = key_file::load(&KeySource::Default, &database, true).expect("made");
    assert_eq!(loaded, Loaded::Created(beside.clone()));
    #[cfg(unix)]
    assert_eq!(mode(&beside), 0o600);
    let (again, loaded) = key_file::load(&KeySource::Default, &database, true).expect("read");
    assert_eq!(loaded, Loaded::Read(beside));
    assert_eq!(again.sealing_key_id(), made.sealing_key_id());

    let postgres = Database::Postgres("postgres://db/leads".to_owned());
    let error = format!(
        "{:#}",
        key_file::load(&KeySource::Default, &postgres, true).expect_err("refused")
    );
    assert!(
        error.contains("leads-server secrets generate") && error.contains("every replica"),
        "{error}"
    );
    // A named file must exist: a typo makes no key.
    let missing = KeySource::File(dir.path().join("typo.key"));
    assert!(key_file::load(&missing, &database, true).is_err());
    assert!(!dir.path().join("typo.key").exists());
}

/// A subscription of `organization`, stored with `secret` sealed by `keys`.
async fn subscribe(
    store: &dyn Store,
    organization: crate::domain::OrganizationId,
    keys: &Keyring,
    secret: &SigningSecret,
) -> Uuid {
    let subscription = Subscription {
        id: Uuid::now_v7(),
        organization,
        event_type: EventType::LeadCreated,
        target_url: "https://hooks.example.com/".to_owned(),
        created_at: crate::domain::now(),
        disabled_at: None,
    };
    let sealed = keys.seal(subscription.id, secret).expect("seal");
    store
        .webhook_subscription_insert(subscription.clone(), sealed, 25)
        .await
        .expect("subscribe");
    subscription.id
}

/// Every byte of the database's files (the database, and its WAL if one is left).
fn file_bytes(path: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(path).expect("the database file");
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    if let Ok(more) = std::fs::read(&wal) {
        bytes.extend(more);
    }
    bytes
}

fn holds(bytes: &[u8], text: &str) -> bool {
    bytes
        .windows(text.len())
        .any(|window| window == text.as_bytes())
}

/// A new SQLite database in a temporary directory, with the organization `acme`.
async fn sqlite() -> (
    TempDir,
    Database,
    SqliteStore,
    crate::domain::OrganizationId,
) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("leads.db");
    let store = SqliteStore::open(&path, crate::store::test_events()).expect("open");
    let organization = store.organization_ensure("acme").await.expect("acme");
    (dir, Database::Sqlite(path), store, organization)
}

fn sqlite_path(database: &Database) -> &Path {
    match database {
        Database::Sqlite(path) => path,
        Database::Postgres(_) => unreachable!("an SQLite database"),
    }
}

#[tokio::test]
async fn a_new_subscriptions_secret_is_nowhere_in_the_database_file() {
    let (_dir, database, store, organization) = sqlite().await;
    let keys = Keyring::generate();
    let secret = SigningSecret::generate();
    let id = subscribe(&store, organization, &keys, &secret).await;
    let stored = store
        .webhook_secrets(
            SecretSlot::Current,
            SecretSelection::NotSealedBy(String::new()),
            None,
            10,
        )
        .await
        .expect("secrets");
    let [(stored_id, StoredSecret::Sealed(sealed))] = &stored[..] else {
        panic!("one sealed secret: {stored:?}");
    };
    assert_eq!(*stored_id, id);
    assert_eq!(keys.unseal(id, sealed), Ok(secret.clone()));
    drop(store);
    let bytes = file_bytes(sqlite_path(&database));
    assert!(!holds(&bytes, secret.expose()));
    assert!(!holds(&bytes, &secret.expose()["whsec_".len()..]));
}

/// A database from before secrets were sealed: its plain secret is sealed at start, gone from
/// the file (not left in a free page), and still signs the same.
#[tokio::test]
async fn a_plain_secret_is_sealed_at_start_and_left_nowhere_in_the_file() {
    let (dir, database, store, organization) = sqlite().await;
    drop(store);
    // Several, so that SQLite rewrites a page with other rows in it rather than the page
    // alone: what a freed cell leaves behind then is what must be erased.
    let plains: Vec<(Uuid, SigningSecret)> = (0..20)
        .map(|_| (Uuid::now_v7(), SigningSecret::generate()))
        .collect();
    let raw = rusqlite::Connection::open(sqlite_path(&database)).expect("raw");
    for (subscription, plain) in &plains {
        raw.execute(
            "INSERT INTO webhook_subscriptions (id, organization_id, event_type, target_url, \
             secret, created_at) VALUES (?, ?, 'lead.created', 'https://hooks.example.com/', \
             ?, 0)",
            (
                subscription.hyphenated().to_string(),
                organization.0.hyphenated().to_string(),
                plain.expose(),
            ),
        )
        .expect("a plain secret, as stored before");
    }
    drop(raw);
    let (subscription, plain) = plains[0].clone();
    assert!(holds(&file_bytes(sqlite_path(&database)), plain.expose()));

    let key = new_key();
    let source = KeySource::Variable(STANDARD.encode(key));
    let store =
        SqliteStore::open(sqlite_path(&database), crate::store::test_events()).expect("open");
    let Started { keys, sealed, .. } = at_start::start(&store, &source, &database)
        .await
        .expect("started");
    assert_eq!(sealed, 20);
    let samples = store.webhook_secret_samples().await.expect("samples");
    let [(id, sealed)] = &samples[..] else {
        panic!("one sealed secret: {samples:?}");
    };
    assert_eq!(*id, subscription);
    assert_eq!(keys.unseal(subscription, sealed), Ok(plain.clone()));
    // Starting again finds nothing left to seal.
    assert_eq!(at_start::seal_plain(&store, &keys).await.expect("again"), 0);
    drop(store);
    let bytes = file_bytes(sqlite_path(&database));
    for (_, plain) in &plains {
        assert!(!holds(&bytes, plain.expose()));
    }
    drop(dir);
}

#[tokio::test]
async fn a_wrong_key_is_refused_at_start_naming_the_key_ids() {
    let (dir, database, store, organization) = sqlite().await;
    let right = new_key();
    subscribe(
        &store,
        organization,
        &keyring(&[right]),
        &SigningSecret::generate(),
    )
    .await;
    let wrong = new_key();
    let key_file = dir.path().join("wrong.key");
    key_file::create(&key_file, &wrong).expect("a key file");
    let error = format!(
        "{:#}",
        at_start::start(&store, &KeySource::File(key_file), &database)
            .await
            .expect_err("refused")
    );
    assert!(
        error.contains(&key_id(&right)) && error.contains(&key_id(&wrong)),
        "{error}"
    );
    assert!(!error.contains(&STANDARD.encode(right)) && !error.contains(&STANDARD.encode(wrong)));
    // The file beside the database is not made while sealed secrets need another key.
    let error = format!(
        "{:#}",
        at_start::start(&store, &KeySource::Default, &database)
            .await
            .expect_err("refused")
    );
    assert!(error.contains("is missing"), "{error}");
}

#[tokio::test]
async fn a_secret_moved_to_another_subscription_is_refused_at_start() {
    let (_dir, database, store, organization) = sqlite().await;
    let keys = keyring(&[new_key()]);
    let first = subscribe(&store, organization, &keys, &SigningSecret::generate()).await;
    let second = subscribe(&store, organization, &keys, &SigningSecret::generate()).await;
    at_start::check(&store, &keys).await.expect("the right key");
    let raw = rusqlite::Connection::open(sqlite_path(&database)).expect("raw");
    raw.execute(
        "UPDATE webhook_subscriptions SET secret = \
         (SELECT secret FROM webhook_subscriptions WHERE id = ?2) WHERE id = ?1",
        (
            first.hyphenated().to_string(),
            second.hyphenated().to_string(),
        ),
    )
    .expect("the second's secret copied into the first");
    let error = format!(
        "{:#}",
        at_start::check(&store, &keys).await.expect_err("refused")
    );
    assert!(error.contains(&first.to_string()), "{error}");
}

/// Rotation on `store`: secrets of an old key, and a plain one, resealed with the new key;
/// the new key alone then unseals every one, each to the secret it was.
async fn rotation_reseals_every_secret(
    store: &dyn Store,
    organization: crate::domain::OrganizationId,
) {
    let (old, new) = (new_key(), new_key());
    let mut secrets = Vec::new();
    for _ in 0..3 {
        let secret = SigningSecret::generate();
        let id = subscribe(store, organization, &keyring(&[old]), &secret).await;
        secrets.push((id, secret));
    }
    // The first subscription's signing secret rotated: its previous one, sealed by the old
    // key too, must be resealed as well, or the old key could never be removed.
    let (first, replaced) = secrets[0].clone();
    let rotated_in = SigningSecret::generate();
    let sealed = keyring(&[old]).seal(first, &rotated_in).expect("seal");
    let in_an_hour = crate::domain::now() + chrono::Duration::hours(1);
    store
        .webhook_secret_rotate(organization, first, sealed, in_an_hour)
        .await
        .expect("rotate the signing secret")
        .expect("the subscription exists");
    secrets[0].1 = rotated_in;
    let rotated = keyring(&[new, old]);
    // A key file that lacks the old key cannot rotate: it could not unseal.
    assert!(at_start::rotate(store, &keyring(&[new])).await.is_err());
    assert_eq!(at_start::rotate(store, &rotated).await.expect("rotate"), 4);
    assert_eq!(at_start::rotate(store, &rotated).await.expect("again"), 0);
    let new_only = keyring(&[new]);
    at_start::check(store, &new_only)
        .await
        .expect("the new key alone");
    let stored = store
        .webhook_secrets(
            SecretSlot::Current,
            SecretSelection::NotSealedBy(String::new()),
            None,
            10,
        )
        .await
        .expect("secrets");
    assert_eq!(stored.len(), secrets.len());
    for ((id, secret), (stored_id, stored)) in secrets.iter().zip(&stored) {
        assert_eq!(id, stored_id);
        assert_eq!(new_only.open(*id, stored).as_ref(), Ok(secret));
    }
    let previous = store
        .webhook_secrets(
            SecretSlot::Previous,
            SecretSelection::NotSealedBy(String::new()),
            None,
            10,
        )
        .await
        .expect("previous secrets");
    let [(id, previous)] = &previous[..] else {
        panic!("one previous secret: {previous:?}");
    };
    assert_eq!(*id, first);
    assert_eq!(new_only.open(first, previous), Ok(replaced));
}

#[tokio::test]
async fn rotation_reseals_every_secret_on_sqlite() {
    let (_dir, _database, store, organization) = sqlite().await;
    rotation_reseals_every_secret(&store, organization).await;
}

/// On PostgreSQL: a plain secret sealed at start (by one of two replicas starting at once),
/// and rotation.
#[cfg_attr(
    not(leads_postgres),
    ignore = "needs PostgreSQL: set LEADS_TEST_POSTGRES_URL"
)]
#[tokio::test]
async fn on_postgres_plain_secrets_are_sealed_at_start_and_rotation_reseals() {
    let scratch = crate::testing::postgres::ScratchDatabase::create()
        .await
        .unwrap_or_else(|error| panic!("a database of the test's own: {error:#}"));
    let url = scratch.url();
    let database = Database::Postgres(url.clone());
    let store = crate::store::postgres::PostgresStore::connect(&url, crate::store::test_events())
        .await
        .expect("connect");
    let organization = store.organization_ensure("acme").await.expect("acme");
    let plain = SigningSecret::generate();
    let subscription = Uuid::now_v7();
    let (raw, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("raw");
    tokio::spawn(connection);
    raw.execute(
        "INSERT INTO webhook_subscriptions (id, organization_id, event_type, target_url, \
         secret, created_at) VALUES ($1, $2, 'lead.created', 'https://hooks.example.com/', $3, \
         now())",
        &[&subscription, &organization.0, &plain.expose()],
    )
    .await
    .expect("a plain secret, as stored before");

    let error = format!(
        "{:#}",
        at_start::start(&store, &KeySource::Default, &database)
            .await
            .expect_err("no key on PostgreSQL")
    );
    assert!(error.contains("secrets generate"), "{error}");

    let source = KeySource::Variable(STANDARD.encode(new_key()));
    let (a, b) = tokio::join!(
        at_start::start(&store, &source, &database),
        at_start::start(&store, &source, &database)
    );
    let (a, b) = (a.expect("a starts"), b.expect("b starts"));
    // Each plain secret sealed once, by one of them.
    assert_eq!(a.sealed + b.sealed, 1);
    let column: (String, Option<String>) = raw
        .query_one(
            "SELECT secret, secret_key_id FROM webhook_subscriptions WHERE id = $1",
            &[&subscription],
        )
        .await
        .map(|row| (row.get(0), row.get(1)))
        .expect("the row");
    assert!(!column.0.contains(plain.expose()));
    assert_eq!(column.1.as_deref(), Some(a.keys.sealing_key_id()));
    let sealed = SealedSecret {
        sealed: column.0,
        key_id: a.keys.sealing_key_id().to_owned(),
    };
    assert_eq!(a.keys.unseal(subscription, &sealed), Ok(plain));

    raw.execute("DELETE FROM webhook_subscriptions", &[])
        .await
        .expect("a clean table");
    rotation_reseals_every_secret(&store, organization).await;
}

/// A secret that stopped unsealing after the start's check (its row altered since) fails its
/// delivery, with a message in the deliveries log and an error in the server's log, and
/// nothing is sent to the receiver, unsigned or otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_that_no_longer_unseals_fails_its_delivery_and_nothing_is_sent() {
    let server = crate::testing::TestServer::builder()
        .backend(crate::testing::Backend::Sqlite)
        .webhooks_to_loopback()
        .start()
        .await
        .expect("a server");
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a receiver");
    let target = format!(
        "http://{}/hook",
        receiver.local_addr().expect("its address")
    );
    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str| {
        http.request(method, format!("{}{path}", server.base_url()))
            .bearer_auth(server.api_key())
    };
    let created = call(reqwest::Method::POST, "/v1/webhooks")
        .json(&serde_json::json!({"event_type": "lead.created", "target_url": target}))
        .send()
        .await
        .expect("an answer");
    assert_eq!(created.status(), 201);
    let Database::Sqlite(path) = server.database() else {
        unreachable!("an SQLite server");
    };
    rusqlite::Connection::open(path)
        .and_then(|raw| {
            raw.execute(
                "UPDATE webhook_subscriptions SET secret_key_id = 'gone'",
                [],
            )
        })
        .expect("the secret's key id altered");
    let lead = call(reqwest::Method::POST, "/v1/leads")
        .json(&serde_json::json!({"email": "ada@example.com"}))
        .send()
        .await
        .expect("an answer");
    assert_eq!(lead.status(), 201);

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let message = loop {
        let log: serde_json::Value = call(reqwest::Method::GET, "/v1/webhook-deliveries")
            .send()
            .await
            .expect("an answer")
            .json()
            .await
            .expect("a JSON body");
        if let Some(message) = log["data"][0]["error_message"].as_str() {
            break message.to_owned();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no attempt recorded: {log}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(message, "not sent: server error");
    let connected = tokio::time::timeout(std::time::Duration::from_millis(200), receiver.accept());
    assert!(connected.await.is_err(), "the receiver was sent to");
}
