"""Type stubs of the native module ``ami._ami`` (crates/python). Use the package ``ami``:
it converts arrays to C-contiguous float32 and wraps these in typed classes."""

from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import numpy.typing as npt

_F32 = npt.NDArray[np.float32]

__version__: str

class Run:
    """A trained run directory, loaded once (world model, actor, cost)."""

    @property
    def root(self) -> str: ...
    @property
    def config_toml(self) -> str: ...
    @property
    def config_json(self) -> str: ...
    @property
    def obs_shape(self) -> List[int]: ...
    @property
    def action_dim(self) -> int: ...
    @property
    def repr_dim(self) -> int: ...
    @property
    def horizon(self) -> int: ...
    @property
    def max_action_norm(self) -> float: ...
    def encode(self, obs: _F32) -> _F32: ...
    def rollout(self, start: _F32, actions: _F32, from_repr: bool) -> _F32: ...
    def plan(self, obs: _F32, goal: _F32, seed: Optional[int] = None) -> Dict[str, Any]: ...

def load_run(path: str) -> Run: ...
def train(
    observations: _F32,
    actions: _F32,
    states: _F32,
    out: str,
    preset: str,
    config: Optional[str],
    config_is_json: bool,
    sets: List[str],
) -> Run: ...
def generate_data(
    preset: str, config: Optional[str], config_is_json: bool, sets: List[str]
) -> Tuple[_F32, _F32, _F32]: ...
def build_config(preset: str, config: Optional[str], config_is_json: bool, sets: List[str]) -> str: ...
