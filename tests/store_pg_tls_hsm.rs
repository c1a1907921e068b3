//! A shared store over TLS and a PKCS#11 module in one process, on one thread (the window's
//! HSM thread, `tdekey hsm …` on a shared store): SoftHSM2 is built on the same OpenSSL as the
//! store's TLS and leaves errors on the thread's OpenSSL error queue, which OpenSSL's
//! `SSL_get_error` then reads as a failure of the next TLS read or write (openssl/openssl#11889).
//! The store's connection must survive the module.

mod common;

use common::Env;
use common::pg::Cluster;
use std::os::unix::fs::PermissionsExt;
use tdekey::store::{Location, Store};

#[test]
fn a_tls_store_connection_survives_loading_a_pkcs11_module_on_its_thread() {
    let env = Env::new();
    let pg = Cluster::start();
    pg.enable_tls();
    let db = pg.create_db();
    let password_file = env.dir.path().join("store-password");
    std::fs::write(&password_file, format!("{}\n", pg.password())).unwrap();
    std::fs::set_permissions(&password_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let url = format!("{}?sslmode=require", pg.url(&db));
    let location = Location::shared(&url, Some(&password_file)).unwrap();
    let store = Store::connect(&location).unwrap();
    let tls = store.facts().unwrap().tls.unwrap();
    assert!(tls.starts_with("TLS"), "{tls}");

    // The module is loaded, a token made and logged in to, on this thread.
    let hsm = env.token("tls-and-hsm", "user-pin-1234");
    store.ping().unwrap();
    assert_eq!(store.setting("nothing").unwrap(), None);
    hsm.close().unwrap();
    store.ping().unwrap();
    store.set_setting("after", "close").unwrap();
    assert_eq!(store.setting("after").unwrap().as_deref(), Some("close"));
}
