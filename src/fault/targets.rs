//! Choosing the containers an action hits: every container of the listed services, or one of them at random
//! with a seeded generator so that a run can be reproduced.

use rand::rngs::StdRng;
use rand::Rng;

use crate::docker::discover::Container;
use crate::scenario::model::{Pick, Target};

/// The containers of `target` among `all`, in service then instance order.
pub fn select(all: &[Container], target: &Target, rng: &mut StdRng) -> Vec<Container> {
    let mut matching: Vec<Container> =
        all.iter().filter(|c| target.services.contains(&c.service)).cloned().collect();
    matching.sort_by(|a, b| (&a.service, a.number).cmp(&(&b.service, b.number)));
    match target.pick {
        Pick::All => matching,
        Pick::One if matching.is_empty() => matching,
        Pick::One => {
            let i = rng.gen_range(0..matching.len());
            vec![matching.swap_remove(i)]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use std::collections::BTreeMap;

    fn c(service: &str, number: u32) -> Container {
        Container {
            id: format!("{service}-{number}"),
            name: String::new(),
            service: service.into(),
            number,
            state: "running".into(),
            health: None,
            ports: BTreeMap::new(),
            networks: vec![],
        }
    }

    #[test]
    fn all_takes_every_instance_of_the_services() {
        let all = vec![c("app1", 1), c("lb", 1), c("app2", 1), c("app2", 2)];
        let t = Target { services: vec!["app2".into(), "app1".into()], pick: Pick::All };
        let got: Vec<String> =
            select(&all, &t, &mut StdRng::seed_from_u64(1)).iter().map(|c| c.id.clone()).collect();
        assert_eq!(got, vec!["app1-1", "app2-1", "app2-2"]);
    }

    #[test]
    fn one_is_reproducible_with_the_same_seed_and_varies_across_seeds() {
        let all = vec![c("app1", 1), c("app2", 1), c("app3", 1)];
        let t = Target { services: vec!["app1".into(), "app2".into(), "app3".into()], pick: Pick::One };
        let pick = |seed| select(&all, &t, &mut StdRng::seed_from_u64(seed))[0].id.clone();
        assert_eq!(pick(7), pick(7));
        let distinct: std::collections::BTreeSet<String> = (0..32).map(pick).collect();
        assert!(distinct.len() > 1, "32 seeds always picked the same instance");
    }
}
