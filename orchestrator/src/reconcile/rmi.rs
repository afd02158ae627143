//! `compose down --rmi local|all`: which images go with the project.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::compose::model::Project;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum RemoveImages {
    /// Only images without a custom tag: those compose names `<project>-<service>` (services with no `image`).
    Local,
    /// Every image a service uses.
    All,
}

/// The images `down --rmi` removes, each once, in name order.
pub fn images_to_remove(project: &Project, mode: RemoveImages) -> Vec<String> {
    let images: BTreeSet<String> = project
        .services
        .iter()
        .filter(|(_, service)| mode == RemoveImages::All || service.image.is_none())
        .map(|(name, service)| service.image_name(&project.name, name))
        .collect();
    images.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::{LoadOptions, load};

    #[test]
    fn local_means_the_images_compose_names_itself() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("compose.yaml"),
            "name: demo\nservices:\n  web: {image: web:1}\n  api: {image: web:1}\n  worker: {build: .}\n  tagged: {build: ., image: mine:2}\n",
        )
        .unwrap();
        let options = LoadOptions { interpolate: true, cwd: dir.path().to_path_buf(), ..Default::default() };
        let project = load(&options).unwrap().project;
        assert_eq!(images_to_remove(&project, RemoveImages::Local), ["demo-worker"]);
        assert_eq!(images_to_remove(&project, RemoveImages::All), ["demo-worker", "mine:2", "web:1"]);
    }
}
