//! Stamps the build with the commit it was built from, for `crm_build_info{commit}`: the
//! `KILANG_BUILD_COMMIT` environment variable when set (the image's build passes its revision), else
//! `git rev-parse` of the checkout, else "unknown" (a source archive).

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=KILANG_BUILD_COMMIT");
    let commit = std::env::var("KILANG_BUILD_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| {
            let out = Command::new("git")
                .args(["rev-parse", "--short=12", "HEAD"])
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    // A new commit (HEAD or the branch it names moving) stamps again.
    if let Ok(dir) = Command::new("git")
        .args(["rev-parse", "--git-dir"])
        .output()
        && dir.status.success()
    {
        let dir = String::from_utf8_lossy(&dir.stdout).trim().to_owned();
        // Only files that exist: cargo reruns a script whose watched file is missing every time.
        let mut watch = vec![format!("{dir}/HEAD"), format!("{dir}/packed-refs")];
        if let Ok(head) = std::fs::read_to_string(format!("{dir}/HEAD"))
            && let Some(reference) = head.trim().strip_prefix("ref: ")
        {
            watch.push(format!("{dir}/{reference}"));
        }
        for file in watch.iter().filter(|f| std::path::Path::new(f).exists()) {
            println!("cargo:rerun-if-changed={file}");
        }
    }
    println!("cargo:rustc-env=KILANG_BUILD_COMMIT={commit}");
}
