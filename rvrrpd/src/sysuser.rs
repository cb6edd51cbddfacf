//! System accounts: the user and group a script runs as (`[[track_script]] user`).

use std::ffi::CString;

/// A system user's ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserIds {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
}

/// Looks `name` up in the system's user database; `None` when there is no such user.
pub fn lookup(name: &str) -> Option<UserIds> {
    let cname = CString::new(name).ok()?;
    let mut buf = vec![0u8; 16 * 1024];
    // SAFETY: `passwd` is plain old data that getpwnam_r fills; `buf` outlives the call and
    // its length is passed; `result` is only read after the call returns.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwnam_r(
            cname.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        );
        if rc != 0 || result.is_null() {
            return None;
        }
        Some(UserIds {
            uid: pwd.pw_uid,
            gid: pwd.pw_gid,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_exists_and_nonsense_does_not() {
        assert_eq!(lookup("root"), Some(UserIds { uid: 0, gid: 0 }));
        assert_eq!(lookup("no-such-user-rvrrpd-test"), None);
        assert_eq!(lookup("nul\0byte"), None);
    }
}
