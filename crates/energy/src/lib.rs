//! ami-energy
