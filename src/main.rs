#![forbid(unsafe_code)]

fn main() {
    eprintln!("flowalert: not yet wired");
    std::process::exit(2);
}
