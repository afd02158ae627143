//! `tag`: another name for a local image.

use super::ImageStore;
use super::error::ImageError;
use super::records;
use super::reference::Reference;

impl ImageStore {
    /// Points `target` at the image `source` names (a reference or an ID).
    pub fn tag(&self, source: &str, target: &str) -> Result<Reference, ImageError> {
        let target = Reference::parse(target)?;
        if target.digest().is_some() {
            return Err(ImageError::Invalid(format!(
                "cannot tag with a digest ({}); a digest names content, not a tag",
                target.familiar()
            )));
        }
        let id = self.resolve_id(source)?;
        let db = self.db();
        records::set_ref(db.conn(), &target, &id)?;
        Ok(target)
    }
}
