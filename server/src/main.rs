//! The Leads API server. Its interface, generated from `openapi/leads.yaml`, and its SQLite
//! implementation are the subject of the server issue; until then this binary only says so.

fn main() {
    eprintln!("leads-server: not implemented yet; see the README");
    std::process::exit(1);
}
