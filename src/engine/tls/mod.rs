//! TLS you can inspect and pin: certificate facts and the chain as PEM (`certinfo`), OCSP
//! stapling (`ocsp`), version, cipher and client-certificate settings (`config`), warnings about
//! what a handshake got (`warnings`), and `tls-scan` (`scan`). The connection itself stays in
//! `engine::transport`.

pub mod certinfo;
pub mod config;
pub mod ocsp;
pub mod scan;
pub mod warnings;
