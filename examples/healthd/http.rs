//! The HTTP server, built so that no client can hold it: a client has [`HEADER_TIMEOUT`]
//! to send a request's head (waiting between two requests of a kept-alive connection
//! counts too), a reader that takes nothing for [`WRITE_STALL`] is cut, at most
//! `max_connections` are served at once (a new one closes the oldest), and the stop asked
//! for ends every connection within [`STOP_GRACE`], whatever the clients do.

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::time::{Instant, Sleep};

/// The longest a client may take to send a request's head, or to send the next one on a
/// kept-alive connection.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a client may leave a response unread.
pub const WRITE_STALL: Duration = Duration::from_secs(10);
/// How long requests in flight may finish once a stop was asked for (SIGTERM), or once
/// their connection was closed to make room.
pub const STOP_GRACE: Duration = Duration::from_millis(1_000);

/// Answers a request.
pub type Handler = Arc<
    dyn Fn(Request<Incoming>) -> Pin<Box<dyn Future<Output = Response<Full<Bytes>>> + Send>>
        + Send
        + Sync,
>;

/// The connections open, oldest first, each with the way to close it.
#[derive(Default)]
struct Open {
    next: u64,
    closers: BTreeMap<u64, Arc<Notify>>,
}

/// Serves `handler` on `listener` until `stop` turns true, then gives the requests in
/// flight [`STOP_GRACE`] to finish and returns.
pub async fn serve(
    listener: TcpListener,
    handler: Handler,
    max_connections: usize,
    mut stop: watch::Receiver<bool>,
) {
    let open = Arc::new(Mutex::new(Open::default()));
    let mut connections = tokio::task::JoinSet::new();
    let mut accept_failed_at: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stop| *stop) => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of file descriptors, most likely: said once a second at most, and
                // tried again shortly (the connections closing free some).
                if accept_failed_at.is_none_or(|at| at.elapsed() > Duration::from_secs(1)) {
                    eprintln!("healthd: cannot accept a connection: {error}");
                    accept_failed_at = Some(Instant::now());
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (id, closer) = {
            let mut open = open.lock().unwrap_or_else(|e| e.into_inner());
            // Full: the oldest connection makes room (a scrape in flight on it finishes
            // within the grace; an idle one, a slow or a silent client, goes at once).
            // Those finishing their grace may exceed the limit for that second.
            if open.closers.len() >= max_connections
                && let Some((_, oldest)) = open.closers.pop_first()
            {
                oldest.notify_one();
            }
            let id = open.next;
            open.next += 1;
            let closer = Arc::new(Notify::new());
            open.closers.insert(id, Arc::clone(&closer));
            (id, closer)
        };
        let handler = Arc::clone(&handler);
        let stop = stop.clone();
        let open = Arc::clone(&open);
        connections.spawn(async move {
            // Out of the open ones when it ends, however it ends.
            let _gone = Gone { open, id };
            connection(stream, handler, closer, stop).await;
        });
        // Reap the connections that ended.
        while connections.try_join_next().is_some() {}
    }
    // The stop: connections end their requests in flight (each within its grace), or
    // are cut.
    let _ = tokio::time::timeout(STOP_GRACE + Duration::from_millis(200), async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    connections.abort_all();
}

/// Takes a connection out of the open ones when its task ends.
struct Gone {
    open: Arc<Mutex<Open>>,
    id: u64,
}

impl Drop for Gone {
    fn drop(&mut self) {
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .closers
            .remove(&self.id);
    }
}

/// Serves one connection until it ends, it is closed to make room, or the stop.
async fn connection(
    stream: TcpStream,
    handler: Handler,
    closer: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let io = TokioIo::new(Stalls::new(stream));
    // Whether a request ever reached the handler: a connection that sent none (silent,
    // or still sending its head) has nothing to finish when it is closed.
    let served = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let service = {
        let served = Arc::clone(&served);
        service_fn(move |request| {
            served.store(true, std::sync::atomic::Ordering::Relaxed);
            let handler = Arc::clone(&handler);
            async move { Ok::<_, std::convert::Infallible>(handler(request).await) }
        })
    };
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(64 * 1024)
        .serve_connection(io, service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => return,
        () = closer.notified() => {}
        _ = stop.wait_for(|stop| *stop) => {}
    }
    // Closing: a connection that never sent a request ends now (hyper would wait for
    // its head: it is not idle), an idle one too, a request in flight gets the grace.
    if !served.load(std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    connection.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(STOP_GRACE, connection).await;
}

/// A stream whose writes fail once the peer has taken nothing for [`WRITE_STALL`].
struct Stalls {
    stream: TcpStream,
    /// Running while a write waits.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl Stalls {
    fn new(stream: TcpStream) -> Stalls {
        Stalls {
            stream,
            stalled: None,
        }
    }

    /// After a write that had to wait: an error once it waited too long.
    fn waited(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(WRITE_STALL)));
        ready!(timer.as_mut().poll(cx));
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client reads nothing",
        )))
    }
}

impl AsyncRead for Stalls {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Stalls {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.stream).poll_write(cx, buf) {
            Poll::Pending => this.waited(cx),
            done => {
                this.stalled = None;
                done
            }
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.stream).poll_write_vectored(cx, bufs) {
            Poll::Pending => this.waited(cx),
            done => {
                this.stalled = None;
                done
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
