//! A slab with generation counters: O(1) insert and remove, stale keys detected.

/// Marks "no index" in free lists and intrusive links.
pub(crate) const NIL: u32 = u32::MAX;

#[derive(Debug, Clone)]
struct Slot<E> {
    /// Bumped every time the slot is freed, so old keys stop matching.
    gen: u32,
    item: Option<E>,
    next_free: u32,
}

/// Storage for the wheel's entries. Keys are `(index, generation)`.
#[derive(Debug, Clone)]
pub(crate) struct Slab<E> {
    slots: Vec<Slot<E>>,
    free_head: u32,
    len: usize,
}

impl<E> Slab<E> {
    pub(crate) fn new() -> Self {
        Slab {
            slots: Vec::new(),
            free_head: NIL,
            len: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Stores `item`, returning its `(index, generation)`.
    ///
    /// # Panics
    /// If more than `u32::MAX - 1` entries are live at once.
    pub(crate) fn insert(&mut self, item: E) -> (u32, u32) {
        self.len += 1;
        if self.free_head != NIL {
            let index = self.free_head;
            let slot = &mut self.slots[index as usize];
            self.free_head = slot.next_free;
            slot.next_free = NIL;
            slot.item = Some(item);
            return (index, slot.gen);
        }
        let index = u32::try_from(self.slots.len())
            .ok()
            .filter(|&i| i != NIL)
            .expect("timing wheel: more than 2^32 - 1 live timers");
        self.slots.push(Slot {
            gen: 0,
            item: Some(item),
            next_free: NIL,
        });
        (index, 0)
    }

    /// The item at `index` if its generation is `gen`.
    pub(crate) fn get(&self, index: u32, gen: u32) -> Option<&E> {
        let slot = self.slots.get(index as usize)?;
        if slot.gen == gen {
            slot.item.as_ref()
        } else {
            None
        }
    }

    /// The item at `index` if its generation is `gen`.
    pub(crate) fn get_mut(&mut self, index: u32, gen: u32) -> Option<&mut E> {
        let slot = self.slots.get_mut(index as usize)?;
        if slot.gen == gen {
            slot.item.as_mut()
        } else {
            None
        }
    }

    /// The live item at `index`, whatever its generation.
    pub(crate) fn at(&self, index: u32) -> Option<&E> {
        self.slots.get(index as usize)?.item.as_ref()
    }

    /// The live item at `index`, whatever its generation.
    pub(crate) fn at_mut(&mut self, index: u32) -> Option<&mut E> {
        self.slots.get_mut(index as usize)?.item.as_mut()
    }

    /// The current generation of `index`.
    pub(crate) fn gen_at(&self, index: u32) -> u32 {
        self.slots.get(index as usize).map_or(0, |s| s.gen)
    }

    /// Removes the live item at `index`, whatever its generation.
    pub(crate) fn remove_at(&mut self, index: u32) -> Option<E> {
        let slot = self.slots.get_mut(index as usize)?;
        let item = slot.item.take()?;
        slot.gen = slot.gen.wrapping_add(1);
        slot.next_free = self.free_head;
        self.free_head = index;
        self.len -= 1;
        Some(item)
    }

    /// Drops every item; all existing keys become stale.
    pub(crate) fn clear(&mut self) {
        let n = self.slots.len();
        for i in 0..n {
            if self.slots[i].item.is_some() {
                // n < NIL by construction of `insert`.
                self.remove_at(i as u32);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_keys_do_not_match() {
        let mut s = Slab::new();
        let (i, g) = s.insert("a");
        assert_eq!(s.get(i, g), Some(&"a"));
        assert_eq!(s.remove_at(i), Some("a"));
        let (i2, g2) = s.insert("b");
        assert_eq!(i2, i);
        assert_ne!(g2, g);
        assert_eq!(s.get(i, g), None);
        assert_eq!(s.get(i2, g2), Some(&"b"));
        assert_eq!(s.len(), 1);
    }
}
