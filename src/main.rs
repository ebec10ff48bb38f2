//! smtpscope: an interactive SMTP session debugger.

mod engine;

fn main() {
    println!("smtpscope");
}
