//! `rename`.

use super::config::validate_name;
use super::containers::Containers;
use super::error::ContainerError;
use super::options::OptionError;
use super::records;

impl Containers {
    pub fn rename(&mut self, reference: &str, new_name: &str) -> Result<(), ContainerError> {
        let record = self.lookup(reference)?;
        let new_name = validate_name(new_name)?;
        if new_name == record.name {
            return Err(OptionError::new(
                "name",
                new_name,
                "Renaming a container with the same name as its current name",
            )
            .into());
        }
        records::rename(&mut self.db, &record.id, new_name)
    }
}
