//! The door graph of a maze: which neighbouring rooms of a `cols × rows` grid are joined by a
//! door, how layouts are generated, and shortest paths in rooms.
//!
//! Room `(c, r)` is column `c` (x grows to the right) and row `r` (y grows upward); its index
//! is `r·cols + c`. A door joins a room to its east neighbour `(c + 1, r)` or to its north
//! neighbour `(c, r + 1)`.
//!
//! **Generated layouts** ([`Layout::generate`]): a uniformly shuffled list of all interior
//! walls is scanned once (randomised Kruskal): a wall becomes a door when the rooms on its two
//! sides are not yet connected (union–find), which yields a spanning tree of the room grid —
//! every room reachable, exactly one way between any two rooms. Then `extra_doors` of the
//! remaining walls (the first ones of the same shuffled list) also become doors, adding loops.
//! All draws come from `StdRng::seed_from_u64(seed)`.
//!
//! **Distances** are in rooms: the number of doors on a shortest path of the door graph,
//! found by breadth-first search visiting neighbours in the order east, north, west, south.

use std::collections::VecDeque;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// A room `(column, row)`.
pub type RoomId = (usize, usize);

/// One door: between `room` and its east neighbour (`north = false`) or its north neighbour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Door {
    /// The west or south room of the pair.
    pub room: RoomId,
    /// `true`: to `(c, r + 1)`; `false`: to `(c + 1, r)`.
    pub north: bool,
}

impl Door {
    /// The door between two neighbouring rooms (`None` when they are not neighbours).
    pub fn between(a: RoomId, b: RoomId) -> Option<Door> {
        let (lo, hi) = if (a.1, a.0) <= (b.1, b.0) {
            (a, b)
        } else {
            (b, a)
        };
        if lo.1 == hi.1 && lo.0 + 1 == hi.0 {
            Some(Door {
                room: lo,
                north: false,
            })
        } else if lo.0 == hi.0 && lo.1 + 1 == hi.1 {
            Some(Door {
                room: lo,
                north: true,
            })
        } else {
            None
        }
    }

    /// The room on the other side (east or north of `room`).
    pub fn other(&self) -> RoomId {
        let (c, r) = self.room;
        if self.north {
            (c, r + 1)
        } else {
            (c + 1, r)
        }
    }
}

/// Which interior walls of a `cols × rows` room grid are doors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    cols: usize,
    rows: usize,
    /// `east[r·cols + c]`: door between `(c, r)` and `(c + 1, r)` (false in the last column).
    east: Vec<bool>,
    /// `north[r·cols + c]`: door between `(c, r)` and `(c, r + 1)` (false in the last row).
    north: Vec<bool>,
}

impl Layout {
    /// A grid with no doors.
    pub fn closed(cols: usize, rows: usize) -> Layout {
        Layout {
            cols,
            rows,
            east: vec![false; cols * rows],
            north: vec![false; cols * rows],
        }
    }

    /// Columns of the grid.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Rows of the grid.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of rooms.
    pub fn rooms(&self) -> usize {
        self.cols * self.rows
    }

    /// Index `r·cols + c` of a room.
    pub fn index(&self, (c, r): RoomId) -> usize {
        r * self.cols + c
    }

    /// The room of an index.
    pub fn room(&self, i: usize) -> RoomId {
        (i % self.cols, i / self.cols)
    }

    /// Every interior wall (a door candidate), row by row, east walls before north walls.
    pub fn walls(cols: usize, rows: usize) -> Vec<Door> {
        let mut out = Vec::new();
        for r in 0..rows {
            for c in 0..cols {
                if c + 1 < cols {
                    out.push(Door {
                        room: (c, r),
                        north: false,
                    });
                }
                if r + 1 < rows {
                    out.push(Door {
                        room: (c, r),
                        north: true,
                    });
                }
            }
        }
        out
    }

    /// Opens `door` (it must join two rooms of the grid).
    pub fn open(&mut self, door: Door) {
        let i = self.index(door.room);
        if door.north {
            self.north[i] = true;
        } else {
            self.east[i] = true;
        }
    }

    /// Whether `door` is open.
    pub fn is_open(&self, door: Door) -> bool {
        let (c, r) = door.room;
        if c >= self.cols || r >= self.rows {
            return false;
        }
        let i = self.index(door.room);
        if door.north {
            self.north[i]
        } else {
            self.east[i]
        }
    }

    /// The open doors, in [`Layout::walls`] order.
    pub fn doors(&self) -> Vec<Door> {
        Self::walls(self.cols, self.rows)
            .into_iter()
            .filter(|d| self.is_open(*d))
            .collect()
    }

    /// The randomised-Kruskal spanning tree plus `extra_doors` loops (module docs).
    pub fn generate(cols: usize, rows: usize, extra_doors: usize, seed: u64) -> Layout {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut walls = Self::walls(cols, rows);
        walls.shuffle(&mut rng);
        let mut layout = Layout::closed(cols, rows);
        let mut parent: Vec<usize> = (0..cols * rows).collect();
        let mut rest = Vec::new();
        for w in walls {
            let (a, b) = (
                find(&mut parent, layout.index(w.room)),
                find(&mut parent, layout.index(w.other())),
            );
            if a == b {
                rest.push(w);
            } else {
                parent[a] = b;
                layout.open(w);
            }
        }
        for w in rest.into_iter().take(extra_doors) {
            layout.open(w);
        }
        layout
    }

    /// The neighbours of `room` through open doors: east, north, west, south.
    pub fn neighbours(&self, (c, r): RoomId) -> Vec<RoomId> {
        let mut out = Vec::with_capacity(4);
        let mut push = |d: Door, n: RoomId| {
            if self.is_open(d) {
                out.push(n);
            }
        };
        push(
            Door {
                room: (c, r),
                north: false,
            },
            (c + 1, r),
        );
        push(
            Door {
                room: (c, r),
                north: true,
            },
            (c, r + 1),
        );
        if c > 0 {
            push(
                Door {
                    room: (c - 1, r),
                    north: false,
                },
                (c - 1, r),
            );
        }
        if r > 0 {
            push(
                Door {
                    room: (c, r - 1),
                    north: true,
                },
                (c, r - 1),
            );
        }
        out
    }

    /// Door-graph distance (rooms) from `from` to every room, by index; `None` = unreachable.
    pub fn distances_from(&self, from: RoomId) -> Vec<Option<usize>> {
        self.bfs(from).0
    }

    /// BFS from `from`: distances and the predecessor of each reached room (by index).
    fn bfs(&self, from: RoomId) -> (Vec<Option<usize>>, Vec<Option<usize>>) {
        let mut dist = vec![None; self.rooms()];
        let mut prev = vec![None; self.rooms()];
        let mut queue = VecDeque::from([from]);
        dist[self.index(from)] = Some(0);
        while let Some(room) = queue.pop_front() {
            let d = dist[self.index(room)].unwrap_or(0);
            for n in self.neighbours(room) {
                let i = self.index(n);
                if dist[i].is_none() {
                    dist[i] = Some(d + 1);
                    prev[i] = Some(self.index(room));
                    queue.push_back(n);
                }
            }
        }
        (dist, prev)
    }

    /// Door-graph distance from `a` to `b` in rooms (`None` when unreachable).
    pub fn distance(&self, a: RoomId, b: RoomId) -> Option<usize> {
        self.distances_from(a)[self.index(b)]
    }

    /// A shortest path of rooms from `a` to `b`, both included (`None` when unreachable).
    /// Ties are broken by the BFS neighbour order (module docs), so the path is deterministic.
    pub fn room_path(&self, a: RoomId, b: RoomId) -> Option<Vec<RoomId>> {
        let (dist, prev) = self.bfs(a);
        dist[self.index(b)]?;
        let mut path = vec![b];
        let mut i = self.index(b);
        while let Some(p) = prev[i] {
            path.push(self.room(p));
            i = p;
        }
        path.reverse();
        Some(path)
    }

    /// The first room (in index order) that `(0, 0)` cannot reach, if any.
    pub fn unreachable_room(&self) -> Option<RoomId> {
        self.distances_from((0, 0))
            .iter()
            .position(Option::is_none)
            .map(|i| self.room(i))
    }

    /// The largest door-graph distance between two rooms (the graph's diameter; rooms that
    /// cannot reach each other are skipped).
    pub fn diameter(&self) -> usize {
        (0..self.rooms())
            .flat_map(|i| self.distances_from(self.room(i)).into_iter().flatten())
            .max()
            .unwrap_or(0)
    }
}

/// Union–find root of `i` with path halving.
fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-made 3 × 2 layout
    /// ```text
    /// (0,1) | (1,1) - (2,1)
    ///   |       |       |
    /// (0,0) - (1,0) | (2,0)
    /// ```
    /// (`-`/`|` between rooms: door; `|` inside a row: wall).
    fn hand_made() -> Layout {
        let mut l = Layout::closed(3, 2);
        for (a, b) in [
            ((0, 0), (1, 0)),
            ((0, 0), (0, 1)),
            ((1, 0), (1, 1)),
            ((1, 1), (2, 1)),
            ((2, 0), (2, 1)),
        ] {
            l.open(Door::between(a, b).unwrap());
        }
        l
    }

    #[test]
    fn bfs_distances_and_paths_on_a_hand_made_layout() {
        let l = hand_made();
        let d: Vec<_> = l.distances_from((0, 0)).into_iter().flatten().collect();
        // Rooms by index: (0,0) (1,0) (2,0) (0,1) (1,1) (2,1).
        assert_eq!(d, vec![0, 1, 4, 1, 2, 3]);
        assert_eq!(l.distance((0, 1), (2, 0)), Some(5));
        assert_eq!(
            l.room_path((0, 1), (2, 0)).unwrap(),
            vec![(0, 1), (0, 0), (1, 0), (1, 1), (2, 1), (2, 0)]
        );
        assert_eq!(l.room_path((1, 1), (1, 1)).unwrap(), vec![(1, 1)]);
        assert_eq!(l.diameter(), 5);
        assert_eq!(l.unreachable_room(), None);
        assert_eq!(l.doors().len(), 5);
    }

    #[test]
    fn a_closed_wall_disconnects_and_door_between_rejects_non_neighbours() {
        let mut l = Layout::closed(2, 2);
        l.open(Door::between((0, 0), (1, 0)).unwrap());
        l.open(Door::between((1, 1), (1, 0)).unwrap());
        assert_eq!(l.unreachable_room(), Some((0, 1)));
        assert_eq!(l.distance((0, 0), (0, 1)), None);
        assert_eq!(l.room_path((0, 1), (0, 0)), None);
        assert_eq!(Door::between((0, 0), (1, 1)), None);
        assert_eq!(Door::between((0, 0), (2, 0)), None);
        assert_eq!(
            Door::between((1, 0), (0, 0)),
            Some(Door {
                room: (0, 0),
                north: false
            })
        );
    }

    #[test]
    fn generated_layouts_are_spanning_trees_plus_extra_doors() {
        for (cols, rows) in [(4, 4), (1, 5), (5, 1), (3, 7), (2, 2)] {
            for seed in 0..20 {
                let l = Layout::generate(cols, rows, 0, seed);
                assert_eq!(l.unreachable_room(), None, "{cols}x{rows} seed {seed}");
                assert_eq!(l.doors().len(), cols * rows - 1, "a tree has n − 1 edges");
                let extra = Layout::generate(cols, rows, 3, seed);
                assert_eq!(extra.unreachable_room(), None);
                let loops = Layout::walls(cols, rows).len() - (cols * rows - 1);
                assert_eq!(extra.doors().len(), cols * rows - 1 + loops.min(3));
                // The extra doors come on top of the same tree.
                assert!(l.doors().iter().all(|d| extra.is_open(*d)));
            }
        }
        assert_ne!(Layout::generate(4, 4, 0, 1), Layout::generate(4, 4, 0, 2));
        assert_eq!(Layout::generate(4, 4, 2, 9), Layout::generate(4, 4, 2, 9));
    }
}
