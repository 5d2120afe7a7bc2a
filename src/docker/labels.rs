//! Label keys: Compose's own (how containers are found, never by name) and hadrill's (how leftovers are found).

pub const COMPOSE_PROJECT: &str = "com.docker.compose.project";
pub const COMPOSE_SERVICE: &str = "com.docker.compose.service";
pub const COMPOSE_NUMBER: &str = "com.docker.compose.container-number";

/// On every container, network and volume hadrill creates.
pub const MANAGED: &str = "io.hadrill.managed";
/// The stack name (bundled name or compose file stem).
pub const STACK: &str = "io.hadrill.stack";
/// On helper containers hadrill starts itself (fault injectors), the project they serve.
pub const HELPER_FOR: &str = "io.hadrill.helper-for";
/// On a drill's reaper container, the project it removes if hadrill dies.
pub const REAPER_FOR: &str = "io.hadrill.reaper-for";
