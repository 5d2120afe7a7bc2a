//! A minimal RESP (Redis protocol) client: enough to ask Sentinel who the master is and to SET/GET keys for
//! the Redis write probe. One command at a time on one connection, every call bounded by a timeout.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// A RESP reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

impl Reply {
    pub fn as_text(&self) -> Option<String> {
        match self {
            Reply::Simple(s) => Some(s.clone()),
            Reply::Bulk(Some(b)) => Some(String::from_utf8_lossy(b).to_string()),
            Reply::Int(i) => Some(i.to_string()),
            _ => None,
        }
    }
}

pub struct Conn {
    stream: BufReader<TcpStream>,
    timeout: Duration,
}

/// Encodes a command as a RESP array of bulk strings.
pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

impl Conn {
    pub async fn connect(addr: SocketAddr, timeout: Duration) -> std::io::Result<Conn> {
        let s = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
        s.set_nodelay(true)?;
        Ok(Conn { stream: BufReader::new(s), timeout })
    }

    /// Sends one command and reads its reply.
    pub async fn call(&mut self, args: &[&[u8]]) -> std::io::Result<Reply> {
        let t = self.timeout;
        tokio::time::timeout(t, async {
            self.stream.get_mut().write_all(&encode(args)).await?;
            read_reply(&mut self.stream).await
        })
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no reply in time"))?
    }

    /// Reads the next message pushed on a subscribed connection, however long it takes.
    pub async fn next_push(&mut self) -> std::io::Result<Reply> {
        read_reply(&mut self.stream).await
    }
}

fn bad(msg: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.to_string())
}

async fn read_line<R: AsyncBufReadExt + Unpin>(r: &mut R) -> std::io::Result<String> {
    let mut line = String::new();
    if r.read_line(&mut line).await? == 0 {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed"));
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Reads one reply (boxed for the recursion of arrays).
pub fn read_reply<'a, R: AsyncBufReadExt + Unpin + Send>(
    r: &'a mut R,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<Reply>> + Send + 'a>> {
    Box::pin(async move {
        let line = read_line(r).await?;
        let (tag, rest) = line.split_at(1.min(line.len()));
        match tag {
            "+" => Ok(Reply::Simple(rest.to_string())),
            "-" => Ok(Reply::Error(rest.to_string())),
            ":" => rest.parse().map(Reply::Int).map_err(|_| bad("bad integer")),
            "$" => {
                let n: i64 = rest.parse().map_err(|_| bad("bad bulk length"))?;
                if n < 0 {
                    return Ok(Reply::Bulk(None));
                }
                let mut buf = vec![0; n as usize + 2];
                r.read_exact(&mut buf).await?;
                buf.truncate(n as usize);
                Ok(Reply::Bulk(Some(buf)))
            }
            "*" => {
                let n: i64 = rest.parse().map_err(|_| bad("bad array length"))?;
                if n < 0 {
                    return Ok(Reply::Array(None));
                }
                let mut items = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    items.push(read_reply(r).await?);
                }
                Ok(Reply::Array(Some(items)))
            }
            _ => Err(bad("unknown reply type")),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_commands() {
        assert_eq!(encode(&[b"GET", b"k"]), b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n".to_vec());
    }

    #[tokio::test]
    async fn parses_replies() {
        let mut input: &[u8] = b"*2\r\n$10\r\n172.18.0.3\r\n$4\r\n6379\r\n+OK\r\n-ERR no\r\n:42\r\n$-1\r\n";
        let mut r = tokio::io::BufReader::new(&mut input);
        let a = read_reply(&mut r).await.unwrap();
        assert_eq!(
            a,
            Reply::Array(Some(vec![
                Reply::Bulk(Some(b"172.18.0.3".to_vec())),
                Reply::Bulk(Some(b"6379".to_vec()))
            ]))
        );
        assert_eq!(read_reply(&mut r).await.unwrap(), Reply::Simple("OK".into()));
        assert_eq!(read_reply(&mut r).await.unwrap(), Reply::Error("ERR no".into()));
        assert_eq!(read_reply(&mut r).await.unwrap(), Reply::Int(42));
        assert_eq!(read_reply(&mut r).await.unwrap(), Reply::Bulk(None));
    }
}
