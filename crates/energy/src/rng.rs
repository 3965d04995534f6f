//! The seeded generator of `ami-energy` (k-means++ seeding, Hopfield and RBM sampling):
//! [`ami_sampling::SplitMix64`], re-exported here.

pub use ami_sampling::SplitMix64;
