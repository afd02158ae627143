//! The image tables of the state database (component "images").
//!
//! Reference counts are not stored as counters that could drift: a layer's
//! count is the number of `image_layers` rows naming it, a blob's the number
//! of `image_blobs` rows. Removing an image removes its rows (ON DELETE
//! CASCADE) in the same transaction that finds what is left unreferenced.

use crate::store::Migration;

pub const MIGRATION: Migration = Migration {
    component: "images",
    steps: &[
        r#"
        -- Blobs under <root>/content/sha256, each verified against its digest before it was kept.
        CREATE TABLE image_content (
            digest     TEXT PRIMARY KEY,
            size       INTEGER NOT NULL,
            media_type TEXT NOT NULL
        );
        -- Layers unpacked under <root>/layers/<chain-id hex>, complete before they were recorded.
        CREATE TABLE image_layer_store (
            chain_id    TEXT PRIMARY KEY,
            diff_id     TEXT NOT NULL,
            size        INTEGER NOT NULL,
            -- The compressed blob it was unpacked from (kept for push and save), if known.
            blob_digest TEXT
        );
        -- An image is its config: its ID is the config digest, as Docker's.
        CREATE TABLE images (
            id              TEXT PRIMARY KEY,
            -- A manifest in image_content whose layer blobs are all kept (push and save use it verbatim).
            manifest_digest TEXT NOT NULL,
            size            INTEGER NOT NULL,
            added_at        INTEGER NOT NULL
        );
        CREATE TABLE image_layers (
            image_id TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            chain_id TEXT NOT NULL REFERENCES image_layer_store (chain_id),
            PRIMARY KEY (image_id, position)
        );
        CREATE INDEX image_layers_by_chain ON image_layers (chain_id);
        CREATE TABLE image_blobs (
            image_id TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
            digest   TEXT NOT NULL REFERENCES image_content (digest),
            PRIMARY KEY (image_id, digest)
        );
        CREATE INDEX image_blobs_by_digest ON image_blobs (digest);
        -- Names: 'docker.io/library/busybox:latest' (a tag) or 'docker.io/library/busybox@sha256:..' (a digest).
        CREATE TABLE image_refs (
            name       TEXT PRIMARY KEY,
            image_id   TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
            repository TEXT NOT NULL,
            kind       TEXT NOT NULL CHECK (kind IN ('tag', 'digest')),
            tagged_at  INTEGER NOT NULL
        );
        CREATE INDEX image_refs_by_image ON image_refs (image_id);
    "#,
        // The boot a layer was written in while its data may still be only in
        // the page cache; NULL once flushed (see layers.rs, "settle").
        "ALTER TABLE image_layer_store ADD COLUMN boot_id TEXT;",
    ],
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Db;

    #[test]
    fn the_schema_applies() {
        let db = Db::memory(&[MIGRATION]).unwrap();
        let tables: i64 = db
            .conn()
            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name LIKE 'image%'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(tables, 6);
    }
}
