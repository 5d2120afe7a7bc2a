//! Property tests of the hand-written HTTP/1.1 answer parsing: arbitrary and adversarial bytes (split at every
//! offset, huge chunk sizes, bad hex, missing CRLF, bodies past Content-Length) never panic, never grow a
//! buffer without bound, and always end in a status or a classified [`Failure`]. Case counts are modest so
//! they run within `cargo test` in about a second.

use proptest::prelude::*;

use super::*;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// Feeds `data` to a fresh decoder in pieces cut at `cuts`: the decoder's verdict and where the body ended.
fn feed_split(data: &[u8], cuts: &[usize]) -> Result<Option<usize>, Failure> {
    let mut d = Chunked::default();
    let mut at = 0;
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    points.push(data.len());
    points.sort_unstable();
    for p in points {
        if let Some(used) = d.feed(&data[at..p])? {
            return Ok(Some(at + used));
        }
        at = p;
    }
    Ok(None)
}

/// A chunked encoding of `chunks` (the empty chunk and an empty trailer end it).
fn encode(chunks: &[Vec<u8>], upper: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for c in chunks.iter().filter(|c| !c.is_empty()) {
        let size = if upper { format!("{:X}", c.len()) } else { format!("{:x}", c.len()) };
        out.extend_from_slice(size.as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn any_bytes_give_a_head_more_to_read_or_a_transport_failure(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        match parse_head(&bytes) {
            Ok(Some(h)) => prop_assert!(h.len <= bytes.len()),
            Ok(None) => prop_assert!(bytes.len() < MAX_HEAD),
            Err(f) => prop_assert_eq!(f, Failure::Transport),
        }
    }

    #[test]
    fn a_head_is_found_only_once_it_is_whole(
        code in 100u16..600,
        length in proptest::option::of(0u64..1_000_000),
        extra in proptest::collection::vec("[a-z-]{1,12}: [ -~]{0,20}", 0..6),
        body in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let mut head = format!("HTTP/1.1 {code} X\r\n");
        for h in extra.iter().filter(|h| !h.starts_with("content-length") && !h.starts_with("transfer-encoding")) {
            head.push_str(h);
            head.push_str("\r\n");
        }
        if let Some(n) = length {
            head.push_str(&format!("content-length: {n}\r\n"));
        }
        head.push_str("\r\n");
        let whole = [head.as_bytes(), &body].concat();
        for cut in 0..head.len() {
            prop_assert_eq!(parse_head(&whole[..cut]), Ok(None), "cut at {}", cut);
        }
        let parsed = parse_head(&whole);
        match parsed {
            Ok(Some(h)) => {
                prop_assert_eq!((h.code, h.len), (code, head.len()));
                if let (Some(n), false) = (length, matches!(code, 100..=199 | 204 | 304)) {
                    prop_assert_eq!(h.framing, Framing::Length(n));
                }
            }
            // A header line the generator made that httparse refuses (a bad token) is a transport failure.
            other => prop_assert_eq!(other, Err(Failure::Transport)),
        }
    }

    #[test]
    fn any_bytes_split_anywhere_end_a_chunked_body_alike(
        bytes in proptest::collection::vec(prop_oneof![
            4 => Just(b'\r'), 4 => Just(b'\n'), 4 => Just(b'0'), 2 => Just(b'f'), 1 => Just(b';'), 1 => any::<u8>(),
        ], 0..200),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let whole = feed_split(&bytes, &[]);
        let split = feed_split(&bytes, &cuts);
        prop_assert_eq!(whole, split);
        match whole {
            Ok(Some(n)) => prop_assert!(n <= bytes.len()),
            Ok(None) => {}
            Err(f) => prop_assert_eq!(f, Failure::Transport),
        }
    }

    #[test]
    fn chunked_bodies_end_exactly_where_they_end(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..70), 0..6),
        upper in any::<bool>(),
        after in proptest::collection::vec(any::<u8>(), 0..20),
        cuts in proptest::collection::vec(any::<usize>(), 0..6),
    ) {
        let body = encode(&chunks, upper);
        let stream = [&body[..], &after].concat();
        prop_assert_eq!(feed_split(&stream, &cuts), Ok(Some(body.len())));
    }

    #[test]
    fn broken_chunk_framing_is_a_transport_failure(
        data in proptest::collection::vec(any::<u8>(), 1..40),
        wrong in any::<u8>().prop_filter("not CR or LF", |b| *b != b'\r' && *b != b'\n'),
        bad_hex in any::<u8>().prop_filter("not a size character", |b| {
            !b.is_ascii_hexdigit() && !matches!(b, b';' | b' ' | b'\t' | b'\r' | b'\n')
        }),
    ) {
        let size = format!("{:x}\r\n", data.len());
        let missing_crlf = [size.as_bytes(), &data, &[wrong]].concat();
        prop_assert_eq!(feed_split(&missing_crlf, &[]), Err(Failure::Transport));
        prop_assert_eq!(feed_split(&[bad_hex, b'\r', b'\n'], &[]), Err(Failure::Transport));
    }
}

#[test]
fn huge_chunk_sizes_overflow_into_a_failure_or_are_skipped_without_a_buffer() {
    assert_eq!(
        feed_split(b"1ffffffffffffffff\r\n", &[]),
        Err(Failure::Transport),
        "17 hex digits overflow u64"
    );
    let mut d = Chunked::default();
    assert_eq!(d.feed(b"ffffffffffffffff\r\n"), Ok(None));
    for _ in 0..1000 {
        assert_eq!(d.feed(&[b'x'; 4096]), Ok(None), "data is counted and skipped, never kept");
    }
    assert_eq!(d.state, ChunkState::Data(u64::MAX - 1000 * 4096));
}

#[test]
fn a_head_that_never_ends_is_refused_at_the_cap() {
    let mut endless = b"HTTP/1.1 200 OK\r\n".to_vec();
    while endless.len() < MAX_HEAD {
        endless.extend_from_slice(b"x-filler: 0123456789\r\n");
    }
    assert_eq!(parse_head(&endless), Err(Failure::Transport));
    let many = format!("HTTP/1.1 200 OK\r\n{}\r\n", "x-a: 1\r\n".repeat(100));
    assert_eq!(parse_head(many.as_bytes()), Err(Failure::Transport), "more headers than the engine reads");
}

/// A server on 127.0.0.1 that answers the first request on its first connection with `reply`, then closes.
async fn answer_once(reply: Vec<u8>) -> (Target, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 4096];
        let _ = s.read(&mut buf).await;
        let _ = s.write_all(&reply).await;
    });
    (Target::resolve(&format!("http://127.0.0.1:{port}")).await.unwrap(), server)
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn any_answer_over_a_socket_is_a_status_or_a_classified_failure(
        reply in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..300),
            (200u16..600, 0usize..40, proptest::collection::vec(any::<u8>(), 0..80)).prop_map(|(code, n, body)| {
                [format!("HTTP/1.1 {code} X\r\ncontent-length: {n}\r\n\r\n").into_bytes(), body].concat()
            }),
            proptest::collection::vec(any::<u8>(), 0..80).prop_map(|junk| {
                [&b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"[..], &junk].concat()
            }),
        ],
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (target, server) = answer_once(reply.clone()).await;
            let mut c = Conn::default();
            let answer = c.request(&target, Method::GET, "/", Bytes::new(), Duration::from_millis(500)).await;
            server.await.unwrap();
            match answer {
                Ok(code) => assert!(code < 1000, "{code}"),
                Err(f) => assert!(
                    matches!(f, Failure::Transport | Failure::Reset | Failure::Timeout),
                    "{f:?} for {reply:?}"
                ),
            }
            assert!(c.buf.capacity() <= MAX_HEAD + 2 * BUF, "buffer kept at {}", c.buf.capacity());
        });
    }
}

#[tokio::test]
async fn a_body_past_its_content_length_is_counted_but_the_connection_not_reused() {
    let (target, server) = answer_once(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokEXTRA".to_vec()).await;
    let mut c = Conn::default();
    assert_eq!(c.request(&target, Method::GET, "/", Bytes::new(), Duration::from_secs(2)).await, Ok(200));
    assert!(c.stream.is_none(), "bytes past the answer: the connection is not trusted again");
    server.await.unwrap();
}
