//! Parameter identifiers that depend on the program, not on chance.
//!
//! burn gives every parameter a random 64-bit [`ParamId`], and writes it into the model's and
//! the optimiser's records (`model.bpk`, `optimizer.bpk`: AdamW's moments are keyed by it). With
//! random identifiers two runs of the same seed train the same weights but write different
//! checkpoint bytes. Every seeded initialisation ([`crate::train::seeded_module`]) therefore
//! renumbers its parameters: initialisation number `k` of the process (counted under the lock
//! that serialises seeded initialisations) gives its `j`-th parameter, in visiting order, the
//! identifier `STABLE_BASE + k·2³² + j`. Identifiers stay unique within a process (two modules
//! never share a `k`), so modules built separately can still be optimised together, and a
//! program that builds its modules in a fixed order writes the same bytes on every run.

use burn::module::{Flag, ModuleMapper, Param, ParamId};
use burn::tensor::{Bool, Int, Tensor};

/// Offset of the stable identifiers: keeps them apart from small hand-chosen ones.
const STABLE_BASE: u64 = 1 << 62;

/// Renumbers the parameters of one module (see the module documentation).
pub(crate) struct StableIds {
    next: u64,
}

impl StableIds {
    /// The numbering of seeded initialisation number `init` of this process (unique for the
    /// first 2³⁰ initialisations, each with fewer than 2³² parameters).
    pub(crate) fn for_init(init: u64) -> Self {
        StableIds {
            next: STABLE_BASE.wrapping_add(init << 32),
        }
    }

    fn take(&mut self) -> ParamId {
        let id = ParamId::from(self.next);
        self.next = self.next.wrapping_add(1);
        id
    }
}

impl ModuleMapper for StableIds {
    fn map_float<const D: usize>(&mut self, mut param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        param.id = self.take();
        param
    }

    fn map_int<const D: usize>(
        &mut self,
        mut param: Param<Tensor<D, Int>>,
    ) -> Param<Tensor<D, Int>> {
        param.id = self.take();
        param
    }

    fn map_bool<const D: usize>(
        &mut self,
        mut param: Param<Tensor<D, Bool>>,
    ) -> Param<Tensor<D, Bool>> {
        param.id = self.take();
        param
    }

    fn map_flag(&mut self, mut flag: Param<Flag>) -> Param<Flag> {
        flag.id = self.take();
        flag
    }
}
