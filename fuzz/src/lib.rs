//! Input formats of the rvrrpd fuzz targets, shared by the targets (decoding) and the seed
//! generator (`examples/seeds.rs`, encoding), so checked-in seeds mean what they say.
//!
//! Every format starts with a selector byte and reads the rest with a [`Reader`], which
//! never fails: past the end it yields zeros, so every byte string is a valid input.

pub mod api;
pub mod codec;
pub mod seeds;
pub mod wheel;

/// Reads fields off a fuzz input; zeros once the input is exhausted.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }

    /// Whether nothing is left.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The next byte (0 at the end).
    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// A big-endian u16.
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    /// A big-endian u32.
    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.array())
    }

    /// A big-endian u64.
    pub fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.array())
    }

    /// `N` bytes (zero-filled past the end).
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for b in &mut out {
            *b = self.u8();
        }
        out
    }

    /// Up to `n` bytes.
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }

    /// A blob with a one-byte length prefix.
    pub fn blob(&mut self) -> &'a [u8] {
        let n = usize::from(self.u8());
        self.take(n)
    }

    /// A blob with a two-byte length prefix.
    pub fn blob16(&mut self) -> &'a [u8] {
        let n = usize::from(self.u16());
        self.take(n)
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }
}

/// Writes fields in the order a [`Reader`] reads them (seed generation).
#[derive(Debug, Default, Clone)]
pub struct Writer {
    /// The input built so far.
    pub out: Vec<u8>,
}

impl Writer {
    /// An empty input.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a byte.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.out.push(v);
        self
    }

    /// Appends a big-endian u16.
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }

    /// Appends a big-endian u32.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }

    /// Appends a big-endian u64.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }

    /// Appends raw bytes.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.out.extend_from_slice(b);
        self
    }

    /// Appends a blob with a one-byte length prefix (cut to 255 bytes).
    pub fn blob(&mut self, b: &[u8]) -> &mut Self {
        let b = &b[..b.len().min(255)];
        self.u8(b.len() as u8).bytes(b)
    }

    /// Appends a blob with a two-byte length prefix (cut to 65535 bytes).
    pub fn blob16(&mut self, b: &[u8]) -> &mut Self {
        let b = &b[..b.len().min(65535)];
        self.u16(b.len() as u16).bytes(b)
    }

    /// The input.
    pub fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }
}

/// Whether `inner` lies within `outer` (same allocation, in bounds).
pub fn within(outer: &[u8], inner: &[u8]) -> bool {
    let (o, i) = (outer.as_ptr() as usize, inner.as_ptr() as usize);
    i >= o && i + inner.len() <= o + outer.len()
}
