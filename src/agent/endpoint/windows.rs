//! The agent's named pipe on Windows: every instance admits only this process's user
//! (a protected DACL granting that user's SID alone), refuses remote clients, and each
//! client's process is checked to run as that user too.

use std::ffi::c_void;
use std::io;
use std::os::windows::io::{AsRawHandle as _, FromRawHandle as _, OwnedHandle};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::net::windows::named_pipe::{ClientOptions, NamedPipeServer, ServerOptions};
use windows_sys::Win32::Foundation::{LocalFree, ERROR_PIPE_BUSY, HANDLE};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW, SDDL_REVISION_1,
};
use windows_sys::Win32::Security::{
    EqualSid, GetTokenInformation, TokenUser, PSECURITY_DESCRIPTOR, SECURITY_ATTRIBUTES,
    TOKEN_QUERY, TOKEN_USER,
};
use windows_sys::Win32::System::Pipes::GetNamedPipeClientProcessId;
use windows_sys::Win32::System::Threading::{
    GetCurrentProcess, OpenProcess, OpenProcessToken, PROCESS_QUERY_LIMITED_INFORMATION,
};

use super::{only_user_sddl, Stream};

/// How long a client waits while every instance of the pipe is busy.
const BUSY_LIMIT: Duration = Duration::from_secs(10);

/// Memory Windows allocated with LocalAlloc, freed when dropped.
struct Local(*mut c_void);

impl Drop for Local {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: the pointer came from a call that allocates with LocalAlloc, and
            // is freed once, here.
            unsafe { LocalFree(self.0) };
        }
    }
}

/// A process's user: its token's TOKEN_USER, in a buffer aligned for it (the SID it
/// points at lies in the same buffer).
struct User(Vec<u64>);

impl User {
    /// The user `process` runs as (a handle with query access).
    fn of(process: HANDLE) -> io::Result<Self> {
        let mut token: HANDLE = std::ptr::null_mut();
        // SAFETY: `token` is a valid place for the handle the call gives.
        if unsafe { OpenProcessToken(process, TOKEN_QUERY, &mut token) } == 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a handle just opened, owned by nothing else.
        let token = unsafe { OwnedHandle::from_raw_handle(token) };
        let mut size = 0u32;
        // SAFETY: a null buffer of length 0 only asks for the size needed.
        unsafe {
            GetTokenInformation(
                token.as_raw_handle(),
                TokenUser,
                std::ptr::null_mut(),
                0,
                &mut size,
            )
        };
        if (size as usize) < std::mem::size_of::<TOKEN_USER>() {
            return Err(io::Error::last_os_error());
        }
        let mut buffer = vec![0u64; (size as usize).div_ceil(8)];
        // SAFETY: `buffer` holds at least `size` bytes, aligned for TOKEN_USER.
        let done = unsafe {
            GetTokenInformation(
                token.as_raw_handle(),
                TokenUser,
                buffer.as_mut_ptr().cast(),
                size,
                &mut size,
            )
        };
        if done == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Self(buffer))
    }

    /// The user this process runs as.
    fn current() -> io::Result<Self> {
        // SAFETY: the pseudo-handle of this process, which needs no closing.
        Self::of(unsafe { GetCurrentProcess() })
    }

    /// The user the process `pid` runs as.
    fn of_process(pid: u32) -> io::Result<Self> {
        // SAFETY: OpenProcess has no preconditions; a null result is its failure.
        let process = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
        if process.is_null() {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a handle just opened, owned by nothing else.
        let process = unsafe { OwnedHandle::from_raw_handle(process) };
        Self::of(process.as_raw_handle())
    }

    /// The user's SID, pointing into this buffer.
    fn sid(&self) -> *mut c_void {
        // SAFETY: the buffer holds a TOKEN_USER, filled by GetTokenInformation.
        unsafe { (*self.0.as_ptr().cast::<TOKEN_USER>()).User.Sid }
    }

    fn same_as(&self, other: &User) -> bool {
        // SAFETY: both SIDs are valid for as long as their buffers, borrowed here.
        unsafe { EqualSid(self.sid(), other.sid()) != 0 }
    }

    /// The SID as a string, `S-1-5-21-…`.
    fn sid_string(&self) -> io::Result<String> {
        let mut text: *mut u16 = std::ptr::null_mut();
        // SAFETY: a valid SID; `text` receives a LocalAlloc'd, NUL-ended string.
        if unsafe { ConvertSidToStringSidW(self.sid(), &mut text) } == 0 {
            return Err(io::Error::last_os_error());
        }
        let text = Local(text.cast());
        let wide = text.0.cast::<u16>();
        // SAFETY: the string ends at its first NUL, within what Windows allocated.
        let len = (0..).take_while(|&i| unsafe { *wide.add(i) } != 0).count();
        // SAFETY: `len` u16s, all within the string.
        let units = unsafe { std::slice::from_raw_parts(wide, len) };
        String::from_utf16(units).map_err(|_| io::Error::other("a SID that is not UTF-16"))
    }
}

/// The agent's pipe: the instance waiting for the next client.
pub struct Listener {
    address: String,
    /// `D:P(A;;GA;;;<our SID>)`: each instance's security descriptor.
    sddl: Vec<u16>,
    own: User,
    next: Mutex<Option<NamedPipeServer>>,
}

// SAFETY: `own` is a buffer only read after it is made (its SID points into itself);
// nothing in it is tied to a thread.
unsafe impl Send for User {}
// SAFETY: as above: read only.
unsafe impl Sync for User {}

impl Listener {
    /// Listens at `address`, the pipe's first instance (so no one else's pipe of that
    /// name is taken over), admitting only this process's user.
    pub fn bind(address: &str) -> io::Result<Self> {
        let own = User::current()?;
        let sid = own.sid_string()?;
        let sddl = only_user_sddl(&sid)
            .ok_or_else(|| io::Error::other(format!("an unexpected SID {sid:?}")))?;
        let listener = Self {
            address: address.to_string(),
            sddl: sddl.encode_utf16().chain([0]).collect(),
            own,
            next: Mutex::new(None),
        };
        let first = listener.instance(true)?;
        if let Ok(mut next) = listener.next.lock() {
            *next = Some(first);
        }
        Ok(listener)
    }

    /// A new instance of the pipe, with the security descriptor that admits only us.
    fn instance(&self, first: bool) -> io::Result<NamedPipeServer> {
        let mut descriptor: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
        // SAFETY: `sddl` is NUL-ended; `descriptor` receives a LocalAlloc'd descriptor.
        let made = unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                self.sddl.as_ptr(),
                SDDL_REVISION_1,
                &mut descriptor,
                std::ptr::null_mut(),
            )
        };
        if made == 0 {
            return Err(io::Error::last_os_error());
        }
        let descriptor = Local(descriptor);
        let mut attributes = SECURITY_ATTRIBUTES {
            nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
            lpSecurityDescriptor: descriptor.0,
            bInheritHandle: 0,
        };
        // SAFETY: `attributes` is a valid SECURITY_ATTRIBUTES whose descriptor lives
        // until after the call (`descriptor` is dropped at the end of this function).
        unsafe {
            ServerOptions::new()
                .first_pipe_instance(first)
                .reject_remote_clients(true)
                .create_with_security_attributes_raw(
                    &self.address,
                    std::ptr::addr_of_mut!(attributes).cast(),
                )
        }
    }

    /// Does the client of `server` run as this process's user? (A client whose process
    /// cannot be asked does not.)
    fn client_is_own_user(&self, server: &NamedPipeServer) -> bool {
        let mut pid = 0u32;
        // SAFETY: a connected pipe's handle, and a place for the pid.
        if unsafe { GetNamedPipeClientProcessId(server.as_raw_handle(), &mut pid) } == 0 {
            return false;
        }
        User::of_process(pid).is_ok_and(|user| user.same_as(&self.own))
    }

    /// The next connection, and whether its client runs as this process's user.
    ///
    /// Cancel-safe: serve's `select!` drops this whenever another branch is ready first,
    /// and the instance waiting then goes back to its slot, still open, so that a client
    /// who opened it meanwhile is answered (dropped, it would see the pipe closed).
    pub async fn accept(&self) -> io::Result<(Box<dyn Stream>, bool)> {
        let server = match self.next.lock().map(|mut n| n.take()) {
            Ok(Some(server)) => server,
            _ => self.instance(false)?,
        };
        let mut waiting = Waiting {
            slot: &self.next,
            server: Some(server),
        };
        let connected = match &waiting.server {
            Some(server) => server.connect().await,
            None => Err(io::Error::other("no instance of the pipe")),
        };
        // Connected, or broken: not put back.
        let server = waiting.server.take();
        connected?;
        let server = server.ok_or_else(|| io::Error::other("no instance of the pipe"))?;
        if let Ok(mut next) = self.next.lock() {
            *next = Some(self.instance(false)?);
        }
        let same_user = self.client_is_own_user(&server);
        Ok((Box::new(server), same_user))
    }
}

/// An instance waiting for its client, put back in its slot if the wait is dropped.
struct Waiting<'a> {
    slot: &'a Mutex<Option<NamedPipeServer>>,
    server: Option<NamedPipeServer>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let (Some(server), Ok(mut slot)) = (self.server.take(), self.slot.lock()) {
            slot.get_or_insert(server);
        }
    }
}

/// A connection to the agent at `address`; while every instance is busy (the agent
/// has yet to open the next one for a burst of clients), tried again for a while, as
/// Windows pipe clients do.
pub async fn connect(address: &str) -> io::Result<Box<dyn Stream>> {
    let started = Instant::now();
    loop {
        match ClientOptions::new().open(address) {
            Ok(client) => return Ok(Box::new(client)),
            Err(e)
                if e.raw_os_error() == Some(ERROR_PIPE_BUSY as i32)
                    && started.elapsed() < BUSY_LIMIT =>
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => return Err(e),
        }
    }
}
