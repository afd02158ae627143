//! The reconciler: compare a project's desired state with what exists and
//! plan the actions that converge them (DESIGN.md, "How data flows", steps 4-6).
//! The planner is pure; the daemon's executor carries plans out.

pub mod container_spec;
pub mod desired;
pub mod observed;
pub mod oneoff;
pub mod plan;
pub mod planner;
pub mod rmi;
pub mod selection;

#[cfg(test)]
pub(crate) mod planner_tests;
