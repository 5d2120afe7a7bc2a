//! Redis Sentinel's replies read as data: the master's address from `SENTINEL get-master-addr-by-name` and
//! its flags from `SENTINEL master`. Shared by the Sentinel observer and the Redis write probe.

use super::resp::Reply;

/// The master's `host:port` from a `get-master-addr-by-name` reply.
pub fn master_addr(r: &Reply) -> Option<String> {
    match r {
        Reply::Array(Some(v)) if v.len() == 2 => Some(format!("{}:{}", v[0].as_text()?, v[1].as_text()?)),
        _ => None,
    }
}

/// The `flags` field of a `SENTINEL master` reply (a flat array of field, value).
pub fn flags(r: &Reply) -> Option<String> {
    let Reply::Array(Some(v)) = r else {
        return None;
    };
    v.chunks(2).find(|kv| kv[0].as_text().as_deref() == Some("flags")).and_then(|kv| kv.get(1)?.as_text())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Reply {
        Reply::Bulk(Some(s.as_bytes().to_vec()))
    }

    #[test]
    fn reads_master_and_flags() {
        let a = Reply::Array(Some(vec![bulk("redis-replica"), bulk("6379")]));
        assert_eq!(master_addr(&a).as_deref(), Some("redis-replica:6379"));
        assert_eq!(master_addr(&Reply::Array(None)), None);
        let m = Reply::Array(Some(vec![
            bulk("name"),
            bulk("mymaster"),
            bulk("flags"),
            bulk("master,s_down,o_down"),
        ]));
        assert_eq!(flags(&m).as_deref(), Some("master,s_down,o_down"));
        assert_eq!(flags(&Reply::Simple("OK".into())), None);
    }
}
