//! Compiles `proto/` with protox (no system protoc) into prost messages and tonic clients and
//! servers, and writes the encoded descriptor set (custom options such as `google.api.http` and
//! source comments kept) for reflection and REST transcoding.

use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let root = root.canonicalize()?;
    println!("cargo:rerun-if-changed={}", root.display());

    let mut files = Vec::new();
    collect_protos(&root.join("crm"), &root, &mut files)?;
    files.sort();
    // Each file too: a directory's own time moves only when an entry is added or removed, so a
    // contract edited in place would otherwise leave the generated code as it was.
    for file in &files {
        println!("cargo:rerun-if-changed={}", root.join(file).display());
    }
    // The standard health service, with `List` (served by the launcher).
    files.push(PathBuf::from("grpc/health/v1/health.proto"));
    // The error details every status carries: in the descriptor set, reflection serves them, so
    // stock clients (buf curl, grpcurl) can show ErrorInfo and BadRequest decoded, not as bytes.
    files.push(PathBuf::from("google/rpc/error_details.proto"));
    // The status itself, which the edge's REST answers decode from `grpc-status-details-bin`.
    files.push(PathBuf::from("google/rpc/status.proto"));

    let mut compiler = protox::Compiler::new([&root])?;
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(&files)?;

    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("crm_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;

    // `prost::Name` on every message: events are typed by their full protobuf name.
    let mut config = tonic_prost_build::Config::new();
    config.enable_type_names();
    // Maps as BTreeMap: a message always encodes to the same bytes, which idempotency keys
    // fingerprint.
    config.btree_map(["."]);
    tonic_prost_build::configure()
        .codec_path("crate::codec::StrictCodec")
        .build_client(true)
        .build_server(true)
        .include_file("mod.rs")
        .compile_fds_with_config(compiler.file_descriptor_set(), config)?;
    Ok(())
}

/// Every `.proto` under `dir`, as a path relative to `root` (what protox opens by).
fn collect_protos(dir: &Path, root: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, root, out)?;
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            out.push(path.strip_prefix(root).expect("under root").to_path_buf());
        }
    }
    Ok(())
}
