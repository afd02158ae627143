//! `-u user[:group]` resolved against the image's /etc/passwd and /etc/group,
//! with the rules runc and Docker use.

/// The identity the container's process runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    /// For `HOME` when the environment does not set it.
    pub home: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    #[error("unable to find user {0}: no matching entries in passwd file")]
    NoUser(String),
    #[error("unable to find group {0}: no matching entries in group file")]
    NoGroup(String),
    #[error("invalid user {0:?}: want user[:group] with names or numeric IDs")]
    Invalid(String),
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

fn passwd_entries(text: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    text.lines().filter_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        if line.trim_start().starts_with('#') || fields.len() < 6 {
            return None;
        }
        Some(PasswdEntry {
            name: fields[0],
            uid: fields[2].parse().ok()?,
            gid: fields[3].parse().ok()?,
            home: fields[5],
        })
    })
}

fn group_entries(text: &str) -> impl Iterator<Item = GroupEntry<'_>> {
    text.lines().filter_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        if line.trim_start().starts_with('#') || fields.len() < 3 {
            return None;
        }
        let members = fields.get(3).map(|m| m.split(',').filter(|m| !m.is_empty()).collect()).unwrap_or_default();
        Some(GroupEntry { name: fields[0], gid: fields[2].parse().ok()?, members })
    })
}

/// Resolves `spec` (empty means root) against the files' contents (empty when
/// the image has none).
pub fn resolve(spec: &str, passwd: &str, group: &str) -> Result<ExecUser, UserError> {
    let (user_part, group_part) = match spec.split_once(':') {
        Some((user, group)) => (user, Some(group)),
        None => (spec, None),
    };
    if group_part.is_some_and(str::is_empty) || group_part.is_some_and(|g| g.contains(':')) {
        return Err(UserError::Invalid(spec.to_owned()));
    }
    let user_part = if user_part.is_empty() { "0" } else { user_part };
    let numeric_uid = user_part.parse::<u32>().ok();
    let found = passwd_entries(passwd).find(|entry| match numeric_uid {
        Some(uid) => entry.uid == uid,
        None => entry.name == user_part,
    });
    let (mut user, name) = match (found, numeric_uid) {
        (Some(entry), _) => (
            ExecUser { uid: entry.uid, gid: entry.gid, additional_gids: Vec::new(), home: entry.home.to_owned() },
            Some(entry.name),
        ),
        // A numeric ID need not exist in the image.
        (None, Some(uid)) => (ExecUser { uid, gid: 0, additional_gids: Vec::new(), home: "/".into() }, None),
        (None, None) => return Err(UserError::NoUser(user_part.to_owned())),
    };
    match group_part {
        Some(group_spec) => {
            let numeric_gid = group_spec.parse::<u32>().ok();
            let found = group_entries(group).find(|entry| match numeric_gid {
                Some(gid) => entry.gid == gid,
                None => entry.name == group_spec,
            });
            user.gid = match (found, numeric_gid) {
                (Some(entry), _) => entry.gid,
                (None, Some(gid)) => gid,
                (None, None) => return Err(UserError::NoGroup(group_spec.to_owned())),
            };
        }
        None => {
            if let Some(name) = name {
                user.additional_gids = group_entries(group)
                    .filter(|entry| entry.members.contains(&name) && entry.gid != user.gid)
                    .map(|entry| entry.gid)
                    .collect();
            }
        }
    }
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n# comment\nappuser:x:1000:1000:app:/home/appuser:/bin/sh\nbroken line\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
    const GROUP: &str = "root:x:0:\nusers:x:100:appuser,other\nwheel:x:10:appuser\nappuser:x:1000:\nnogroup:x:65534:\n";

    #[test]
    fn root_by_default() {
        let user = resolve("", PASSWD, GROUP).unwrap();
        assert_eq!((user.uid, user.gid, user.home.as_str()), (0, 0, "/root"));
        assert!(user.additional_gids.is_empty());
    }

    #[test]
    fn names_resolve_with_supplementary_groups() {
        let user = resolve("appuser", PASSWD, GROUP).unwrap();
        assert_eq!((user.uid, user.gid), (1000, 1000));
        assert_eq!(user.additional_gids, [100, 10]);
        assert_eq!(user.home, "/home/appuser");
        let by_uid = resolve("1000", PASSWD, GROUP).unwrap();
        assert_eq!(by_uid.additional_gids, [100, 10]);
    }

    #[test]
    fn explicit_groups() {
        let user = resolve("appuser:users", PASSWD, GROUP).unwrap();
        assert_eq!((user.uid, user.gid), (1000, 100));
        assert!(user.additional_gids.is_empty());
        assert_eq!(resolve("nobody:4242", PASSWD, GROUP).unwrap().gid, 4242);
    }

    #[test]
    fn numeric_ids_need_no_entry() {
        let user = resolve("4000:4000", "", "").unwrap();
        assert_eq!((user.uid, user.gid, user.home.as_str()), (4000, 4000, "/"));
        assert_eq!(resolve("4000", "", "").unwrap().gid, 0);
    }

    #[test]
    fn unknown_names_are_errors_with_dockers_message() {
        assert_eq!(
            resolve("ghost", PASSWD, GROUP).unwrap_err().to_string(),
            "unable to find user ghost: no matching entries in passwd file"
        );
        assert_eq!(
            resolve("root:ghosts", PASSWD, GROUP).unwrap_err().to_string(),
            "unable to find group ghosts: no matching entries in group file"
        );
        assert!(matches!(resolve("root:", PASSWD, GROUP), Err(UserError::Invalid(_))));
    }
}
