//! The `smtpscope` binary: parse the command line and hand over to a front end.

fn main() {
    println!("smtpscope");
}
