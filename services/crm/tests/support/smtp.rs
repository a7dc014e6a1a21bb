//! A real SMTP server for the tests, started in the test process: the protocol is `mailin`'s
//! (its parser and state machine, the library behind `mailin-embedded`), the sockets are tokio's.
//! It accepts every message and keeps each one as it arrived (headers and body), so a test can
//! wait for a message and read it. Nothing needs installing: a fresh machine runs it.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The messages accepted so far, in order; a test waits on it for the one it expects.
type Mailbox = watch::Sender<Vec<String>>;

/// An SMTP server on 127.0.0.1; it stops when dropped.
pub struct SmtpSink {
    pub port: u16,
    mailbox: Mailbox,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A port nothing listens on (yet).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Collects one message per `DATA`, as the client sent it.
struct Collector {
    mailbox: Mailbox,
    message: Vec<u8>,
}

impl mailin::Handler for Collector {
    fn data_start(&mut self, _: &str, _: &str, _: bool, _: &[String]) -> mailin::Response {
        self.message.clear();
        mailin::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.message.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> mailin::Response {
        let message = String::from_utf8_lossy(&std::mem::take(&mut self.message)).into_owned();
        self.mailbox.send_modify(|messages| messages.push(message));
        mailin::response::OK
    }
}

impl SmtpSink {
    /// On a free port.
    pub async fn start() -> SmtpSink {
        SmtpSink::start_on(free_port()).await
    }

    /// On `port` (one a client was already told about): listening when this returns.
    pub async fn start_on(port: u16) -> SmtpSink {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap_or_else(|e| panic!("the SMTP sink cannot listen on {port}: {e}"));
        let mailbox = Mailbox::new(Vec::new());
        let accepted = mailbox.clone();
        let task = tokio::spawn(async move {
            let builder = mailin::SessionBuilder::new("sink.test");
            while let Ok((stream, peer)) = listener.accept().await {
                let handler = Collector {
                    mailbox: accepted.clone(),
                    message: Vec::new(),
                };
                tokio::spawn(converse(stream, peer, builder.build(peer.ip(), handler)));
            }
        });
        SmtpSink {
            port,
            mailbox,
            task,
        }
    }

    /// How many messages it has accepted.
    pub fn messages(&self) -> usize {
        self.mailbox.borrow().len()
    }

    /// Every message accepted so far, one after another.
    pub fn everything(&self) -> String {
        self.mailbox.borrow().join("\n")
    }

    /// Waits for a message containing `needle` and returns it. The bound only turns a hang into
    /// a failure that shows what did arrive.
    pub async fn received(&self, needle: &str) -> String {
        let mut mailbox = self.mailbox.subscribe();
        let found = tokio::time::timeout(
            Duration::from_secs(60),
            mailbox.wait_for(|messages| messages.iter().any(|m| m.contains(needle))),
        )
        .await;
        match found {
            Ok(Ok(messages)) => messages
                .iter()
                .find(|m| m.contains(needle))
                .unwrap()
                .clone(),
            _ => panic!(
                "no message with {needle:?} reached the SMTP server within a minute; it accepted:\n{}",
                self.everything()
            ),
        }
    }
}

/// One client's session: the greeting, then a reply to each line the state machine answers.
async fn converse(
    stream: tokio::net::TcpStream,
    _peer: SocketAddr,
    mut session: mailin::Session<Collector>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    write.write_all(&session.greeting().buffer()?).await?;
    let mut line = Vec::new();
    loop {
        line.clear();
        if read.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let response = session.process(&line);
        match response.action {
            mailin::Action::NoReply => {}
            mailin::Action::Reply => write.write_all(&response.buffer()?).await?,
            mailin::Action::Close | mailin::Action::UpgradeTls => {
                write.write_all(&response.buffer()?).await?;
                return Ok(());
            }
        }
    }
}
