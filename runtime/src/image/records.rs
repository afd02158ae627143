//! Queries on the image tables (see `schema.rs`). Callers hold the connection
//! or transaction; every function here is one statement or a short sequence.

use rusqlite::{Connection, OptionalExtension, params};

use super::digest::Digest;
use super::error::ImageError;
use super::reference::Reference;

type Result<T> = std::result::Result<T, ImageError>;

/// An image's row.
#[derive(Debug, Clone)]
pub struct ImageRow {
    pub id: Digest,
    pub manifest_digest: Digest,
    pub size: u64,
    pub added_at: i64,
}

/// One name of an image, as stored.
#[derive(Debug, Clone)]
pub struct RefRow {
    pub name: String,
    pub image_id: Digest,
    pub kind: RefKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    Tag,
    Digest,
}

impl RefKind {
    fn as_str(self) -> &'static str {
        match self {
            RefKind::Tag => "tag",
            RefKind::Digest => "digest",
        }
    }

    fn of(reference: &Reference) -> RefKind {
        if reference.digest().is_some() { RefKind::Digest } else { RefKind::Tag }
    }
}

fn digest_column(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Digest> {
    let text: String = row.get(index)?;
    text.parse().map_err(|e| rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e)))
}

fn ref_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RefRow> {
    let kind: String = row.get(2)?;
    Ok(RefRow {
        name: row.get(0)?,
        image_id: digest_column(row, 1)?,
        kind: if kind == "digest" { RefKind::Digest } else { RefKind::Tag },
    })
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The stored name for a reference: the tag form, or the digest form when it has a digest.
pub fn ref_name(reference: &Reference) -> String {
    match reference.digest() {
        Some(digest) => format!("{}@{}", reference.name(), digest),
        None => reference.to_string(),
    }
}

pub fn image_for_ref(conn: &Connection, reference: &Reference) -> Result<Option<Digest>> {
    conn.query_row("SELECT image_id FROM image_refs WHERE name = ?1", params![ref_name(reference)], |r| {
        digest_column(r, 0)
    })
    .optional()
    .map_err(ImageError::sql("looking up a reference"))
}

/// Image IDs whose hex starts with `prefix` (lowercase hex digits only).
pub fn images_by_prefix(conn: &Connection, prefix: &str) -> Result<Vec<Digest>> {
    let mut stmt = conn
        .prepare_cached("SELECT id FROM images WHERE substr(id, 8, ?2) = ?1 ORDER BY id")
        .map_err(ImageError::sql("looking up an image ID"))?;
    let rows = stmt
        .query_map(params![prefix, prefix.len() as i64], |r| digest_column(r, 0))
        .map_err(ImageError::sql("looking up an image ID"))?;
    rows.collect::<rusqlite::Result<_>>().map_err(ImageError::sql("looking up an image ID"))
}

pub fn image(conn: &Connection, id: &Digest) -> Result<Option<ImageRow>> {
    conn.query_row(
        "SELECT id, manifest_digest, size, added_at FROM images WHERE id = ?1",
        params![id.to_string()],
        |r| {
            Ok(ImageRow {
                id: digest_column(r, 0)?,
                manifest_digest: digest_column(r, 1)?,
                size: r.get::<_, i64>(2)? as u64,
                added_at: r.get(3)?,
            })
        },
    )
    .optional()
    .map_err(ImageError::sql("reading an image"))
}

pub fn all_images(conn: &Connection) -> Result<Vec<ImageRow>> {
    let mut stmt = conn
        .prepare("SELECT id, manifest_digest, size, added_at FROM images ORDER BY added_at DESC, id")
        .map_err(ImageError::sql("listing images"))?;
    let rows = stmt
        .query_map([], |r| {
            Ok(ImageRow {
                id: digest_column(r, 0)?,
                manifest_digest: digest_column(r, 1)?,
                size: r.get::<_, i64>(2)? as u64,
                added_at: r.get(3)?,
            })
        })
        .map_err(ImageError::sql("listing images"))?;
    rows.collect::<rusqlite::Result<_>>().map_err(ImageError::sql("listing images"))
}

/// The chain IDs of an image's layers, lowest first.
pub fn image_chain(conn: &Connection, id: &Digest) -> Result<Vec<Digest>> {
    let mut stmt = conn
        .prepare_cached("SELECT chain_id FROM image_layers WHERE image_id = ?1 ORDER BY position")
        .map_err(ImageError::sql("reading an image's layers"))?;
    let rows =
        stmt.query_map(params![id.to_string()], |r| digest_column(r, 0)).map_err(ImageError::sql("reading layers"))?;
    rows.collect::<rusqlite::Result<_>>().map_err(ImageError::sql("reading an image's layers"))
}

/// The names of an image, sorted.
pub fn image_refs(conn: &Connection, id: &Digest) -> Result<Vec<RefRow>> {
    let mut stmt = conn
        .prepare_cached("SELECT name, image_id, kind FROM image_refs WHERE image_id = ?1 ORDER BY name")
        .map_err(ImageError::sql("reading an image's names"))?;
    let rows = stmt.query_map(params![id.to_string()], ref_row).map_err(ImageError::sql("reading an image's names"))?;
    rows.collect::<rusqlite::Result<_>>().map_err(ImageError::sql("reading an image's names"))
}

/// Points `reference` at `image_id`, moving it from another image if it had one.
pub fn set_ref(conn: &Connection, reference: &Reference, image_id: &Digest) -> Result<()> {
    conn.execute(
        "INSERT INTO image_refs (name, image_id, repository, kind, tagged_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (name) DO UPDATE SET image_id = excluded.image_id, tagged_at = excluded.tagged_at",
        params![ref_name(reference), image_id.to_string(), reference.name(), RefKind::of(reference).as_str(), now()],
    )
    .map_err(ImageError::sql("recording a name"))?;
    Ok(())
}

/// Removes a name; returns whether it existed.
pub fn remove_ref(conn: &Connection, name: &str) -> Result<bool> {
    let n =
        conn.execute("DELETE FROM image_refs WHERE name = ?1", params![name]).map_err(ImageError::sql("untagging"))?;
    Ok(n > 0)
}

pub fn has_blob(conn: &Connection, digest: &Digest) -> Result<bool> {
    conn.query_row("SELECT 1 FROM image_content WHERE digest = ?1", params![digest.to_string()], |_| Ok(()))
        .optional()
        .map(|r| r.is_some())
        .map_err(ImageError::sql("looking up a blob"))
}

pub fn record_blob(conn: &Connection, digest: &Digest, size: u64, media_type: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO image_content (digest, size, media_type) VALUES (?1, ?2, ?3) ON CONFLICT (digest) DO NOTHING",
        params![digest.to_string(), size as i64, media_type],
    )
    .map_err(ImageError::sql("recording a blob"))?;
    Ok(())
}

/// A blob's size and media type, if the store has it.
pub fn blob(conn: &Connection, digest: &Digest) -> Result<Option<(u64, String)>> {
    conn.query_row("SELECT size, media_type FROM image_content WHERE digest = ?1", params![digest.to_string()], |r| {
        Ok((r.get::<_, i64>(0)? as u64, r.get(1)?))
    })
    .optional()
    .map_err(ImageError::sql("reading a blob"))
}

/// An unpacked layer's row.
#[derive(Debug, Clone)]
pub struct LayerRow {
    pub chain_id: Digest,
    pub diff_id: Digest,
    pub size: u64,
    pub blob_digest: Option<Digest>,
}

pub fn layer(conn: &Connection, chain_id: &Digest) -> Result<Option<LayerRow>> {
    conn.query_row(
        "SELECT chain_id, diff_id, size, blob_digest FROM image_layer_store WHERE chain_id = ?1",
        params![chain_id.to_string()],
        |r| {
            let blob: Option<String> = r.get(3)?;
            Ok(LayerRow {
                chain_id: digest_column(r, 0)?,
                diff_id: digest_column(r, 1)?,
                size: r.get::<_, i64>(2)? as u64,
                blob_digest: blob.and_then(|b| b.parse().ok()),
            })
        },
    )
    .optional()
    .map_err(ImageError::sql("looking up a layer"))
}

/// Records an unpacked layer written in boot `boot_id` (`None`: known to be on disk).
pub fn record_layer(conn: &Connection, row: &LayerRow, boot_id: Option<&str>) -> Result<()> {
    conn.execute(
        "INSERT INTO image_layer_store (chain_id, diff_id, size, blob_digest, boot_id) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (chain_id) DO UPDATE SET
            blob_digest = coalesce(blob_digest, excluded.blob_digest), boot_id = excluded.boot_id",
        params![
            row.chain_id.to_string(),
            row.diff_id.to_string(),
            row.size as i64,
            row.blob_digest.as_ref().map(Digest::to_string),
            boot_id
        ],
    )
    .map_err(ImageError::sql("recording a layer"))?;
    Ok(())
}

/// The boot a layer was written in, if it may not be flushed yet.
pub fn layer_boot(conn: &Connection, chain_id: &Digest) -> Result<Option<String>> {
    conn.query_row("SELECT boot_id FROM image_layer_store WHERE chain_id = ?1", params![chain_id.to_string()], |r| {
        r.get(0)
    })
    .optional()
    .map(Option::flatten)
    .map_err(ImageError::sql("reading a layer"))
}

/// Whether layers written in `boot_id` wait to be flushed.
pub fn has_unsettled(conn: &Connection, boot_id: &str) -> Result<bool> {
    conn.query_row("SELECT 1 FROM image_layer_store WHERE boot_id = ?1 LIMIT 1", params![boot_id], |_| Ok(()))
        .optional()
        .map(|r| r.is_some())
        .map_err(ImageError::sql("reading layers"))
}

/// Marks the layers of `boot_id` as flushed.
pub fn settle(conn: &Connection, boot_id: &str) -> Result<()> {
    conn.execute("UPDATE image_layer_store SET boot_id = NULL WHERE boot_id = ?1", params![boot_id])
        .map_err(ImageError::sql("recording flushed layers"))?;
    Ok(())
}

/// What a new image consists of; written in one transaction by [`insert_image`].
#[derive(Debug)]
pub struct NewImage<'a> {
    pub id: &'a Digest,
    pub manifest_digest: &'a Digest,
    pub chain: &'a [Digest],
    pub blobs: &'a [Digest],
    pub size: u64,
}

/// Adds an image (or more blobs to an existing one). Its layers and blobs must be recorded already.
pub fn insert_image(conn: &Connection, image: &NewImage<'_>) -> Result<()> {
    let id = image.id.to_string();
    let ctx = "recording an image";
    conn.execute(
        "INSERT INTO images (id, manifest_digest, size, added_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (id) DO NOTHING",
        params![id, image.manifest_digest.to_string(), image.size as i64, now()],
    )
    .map_err(ImageError::sql(ctx))?;
    for (position, chain_id) in image.chain.iter().enumerate() {
        conn.execute(
            "INSERT INTO image_layers (image_id, position, chain_id) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
            params![id, position as i64, chain_id.to_string()],
        )
        .map_err(ImageError::sql(ctx))?;
    }
    for digest in image.blobs {
        conn.execute(
            "INSERT INTO image_blobs (image_id, digest) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![id, digest.to_string()],
        )
        .map_err(ImageError::sql(ctx))?;
    }
    Ok(())
}

/// Counts `digest` among the blobs `image_id` holds.
pub fn hold_blob(conn: &Connection, image_id: &Digest, digest: &Digest) -> Result<()> {
    conn.execute(
        "INSERT INTO image_blobs (image_id, digest) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        params![image_id.to_string(), digest.to_string()],
    )
    .map_err(ImageError::sql("recording a blob of an image"))?;
    Ok(())
}

/// Makes `digest` the manifest push and save use for `image_id`.
pub fn set_manifest(conn: &Connection, image_id: &Digest, digest: &Digest) -> Result<()> {
    conn.execute(
        "UPDATE images SET manifest_digest = ?2 WHERE id = ?1",
        params![image_id.to_string(), digest.to_string()],
    )
    .map_err(ImageError::sql("recording an image's manifest"))?;
    Ok(())
}

/// Names of every image, for listing.
pub fn all_refs(conn: &Connection) -> Result<Vec<RefRow>> {
    let mut stmt = conn
        .prepare("SELECT name, image_id, kind FROM image_refs ORDER BY name")
        .map_err(ImageError::sql("listing names"))?;
    let rows = stmt.query_map([], ref_row).map_err(ImageError::sql("listing names"))?;
    rows.collect::<rusqlite::Result<_>>().map_err(ImageError::sql("listing names"))
}

/// When a name was last pointed at its image (unix seconds).
pub fn last_tag_time(conn: &Connection, image_id: &Digest) -> Result<Option<i64>> {
    conn.query_row("SELECT max(tagged_at) FROM image_refs WHERE image_id = ?1", params![image_id.to_string()], |r| {
        r.get(0)
    })
    .map_err(ImageError::sql("reading tag times"))
}

/// Every chain ID and blob digest the tables know, for finding strays on disk.
pub fn known_layers_and_blobs(conn: &Connection) -> Result<(Vec<String>, Vec<String>)> {
    let column = |sql: &str| -> Result<Vec<String>> {
        let mut stmt = conn.prepare(sql).map_err(ImageError::sql("listing content"))?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(ImageError::sql("listing content"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(ImageError::sql("listing content"))
    };
    Ok((column("SELECT chain_id FROM image_layer_store")?, column("SELECT digest FROM image_content")?))
}

pub fn delete_image(conn: &Connection, id: &Digest) -> Result<()> {
    conn.execute("DELETE FROM images WHERE id = ?1", params![id.to_string()])
        .map_err(ImageError::sql("removing an image"))?;
    Ok(())
}

/// Layers no image references, removed from the table; the caller removes their directories.
pub fn take_unreferenced_layers(conn: &Connection) -> Result<Vec<Digest>> {
    take_unreferenced(
        conn,
        "DELETE FROM image_layer_store WHERE chain_id NOT IN (SELECT chain_id FROM image_layers) RETURNING chain_id",
    )
}

/// Blobs no image references, removed from the table; the caller removes their files.
pub fn take_unreferenced_blobs(conn: &Connection) -> Result<Vec<Digest>> {
    take_unreferenced(
        conn,
        "DELETE FROM image_content WHERE digest NOT IN (SELECT digest FROM image_blobs) RETURNING digest",
    )
}

fn take_unreferenced(conn: &Connection, sql: &str) -> Result<Vec<Digest>> {
    let mut stmt = conn.prepare(sql).map_err(ImageError::sql("freeing unused content"))?;
    let rows = stmt.query_map([], |r| digest_column(r, 0)).map_err(ImageError::sql("freeing unused content"))?;
    rows.collect::<rusqlite::Result<_>>().map_err(ImageError::sql("freeing unused content"))
}

/// How many images use a layer (its reference count).
pub fn layer_refcount(conn: &Connection, chain_id: &Digest) -> Result<u64> {
    conn.query_row(
        "SELECT count(DISTINCT image_id) FROM image_layers WHERE chain_id = ?1",
        params![chain_id.to_string()],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n as u64)
    .map_err(ImageError::sql("counting layer references"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::schema::MIGRATION;
    use crate::store::Db;

    fn d(s: &str) -> Digest {
        Digest::of(s.as_bytes())
    }

    fn add(conn: &Connection, id: &Digest, chain: &[Digest]) {
        for c in chain {
            record_layer(conn, &LayerRow { chain_id: c.clone(), diff_id: c.clone(), size: 1, blob_digest: None }, None)
                .unwrap();
        }
        record_blob(conn, id, 1, "application/vnd.oci.image.config.v1+json").unwrap();
        let image = NewImage { id, manifest_digest: id, chain, blobs: std::slice::from_ref(id), size: 2 };
        insert_image(conn, &image).unwrap();
    }

    #[test]
    fn counts_follow_images() {
        let db = Db::memory(&[MIGRATION]).unwrap();
        let conn = db.conn();
        let (a, b, base, top) = (d("a"), d("b"), d("base"), d("top"));
        add(conn, &a, std::slice::from_ref(&base));
        add(conn, &b, &[base.clone(), top.clone()]);
        assert_eq!(layer_refcount(conn, &base).unwrap(), 2);
        delete_image(conn, &b).unwrap();
        assert_eq!(layer_refcount(conn, &base).unwrap(), 1);
        assert_eq!(take_unreferenced_layers(conn).unwrap(), vec![top]);
        assert_eq!(take_unreferenced_blobs(conn).unwrap(), vec![b]);
        assert!(layer(conn, &base).unwrap().is_some());
    }

    #[test]
    fn names_move_between_images_and_go_with_them() {
        let db = Db::memory(&[MIGRATION]).unwrap();
        let conn = db.conn();
        let (a, b) = (d("a"), d("b"));
        add(conn, &a, &[]);
        add(conn, &b, &[]);
        let name = Reference::parse("busybox").unwrap();
        set_ref(conn, &name, &a).unwrap();
        set_ref(conn, &name, &b).unwrap();
        assert_eq!(image_for_ref(conn, &name).unwrap(), Some(b.clone()));
        assert_eq!(image_refs(conn, &a).unwrap().len(), 0);
        delete_image(conn, &b).unwrap();
        assert_eq!(image_for_ref(conn, &name).unwrap(), None);
    }

    #[test]
    fn finds_ids_by_prefix() {
        let db = Db::memory(&[MIGRATION]).unwrap();
        let conn = db.conn();
        let a = d("a");
        add(conn, &a, &[]);
        assert_eq!(images_by_prefix(conn, &a.hex()[..6]).unwrap(), vec![a.clone()]);
        assert_eq!(images_by_prefix(conn, a.hex()).unwrap(), vec![a]);
        assert!(images_by_prefix(conn, "zz").unwrap().is_empty());
    }
}
