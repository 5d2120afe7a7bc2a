//! Images, built offline: every `hadrill/<name>:local` image a stack uses is built from
//! `compose/images/<name>/Dockerfile` on a Debian bookworm base, which hadrill makes itself with debootstrap
//! when it is missing and cannot be pulled.

pub mod base;
pub mod build;
