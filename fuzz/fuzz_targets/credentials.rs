//! Everything authz-svc reads from an untrusted request before any signature check:
//! header parsing (authorization, cookies), JWT headers, session cookies. None of it may
//! panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (name, value) = text.split_once('\n').unwrap_or(("authorization", text));
    let _ = authz_svc::credentials::parse([(name, value), ("cookie", value)], Some("dcr_session"));
    let _ = authz_svc::credentials::parse([("authorization", value)], None);
    let _ = jsonwebtoken::decode_header(value);
    let sealer = dcr_common::seal::Sealer::new(&[1; 32], &[]);
    let _ = authz_svc::session::open(&sealer, value);
});
