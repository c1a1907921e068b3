//! The store's TLS connector, with the calling thread's OpenSSL error queue cleared before each
//! TLS handshake step, read and write.
//!
//! OpenSSL's `SSL_get_error` reads the thread's error queue first: an error some other code left
//! there turns a harmless "would block" into a fatal error (openssl/openssl#11889). A PKCS#11
//! module built on the same OpenSSL does leave errors there: SoftHSM2's `C_Initialize` on the
//! window's HSM thread (or in `tdekey hsm …`) cut that thread's TLS connection to the store at
//! its next statement. The sync client drives its connection on the thread that makes the call,
//! so clearing the queue at each poll clears the queue of the thread that is about to use TLS.

use postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect};
use postgres_native_tls::{MakeTlsConnector, TlsConnector, TlsStream};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Empties this thread's OpenSSL error queue (nothing to do where native-tls is not OpenSSL).
fn clear_errors() {
    #[cfg(not(any(target_os = "windows", target_vendor = "apple")))]
    drop(openssl::error::ErrorStack::get());
}

/// [`MakeTlsConnector`] whose streams clear the error queue first.
#[derive(Clone)]
pub(crate) struct MakeClean(pub(crate) MakeTlsConnector);

pub(crate) struct Clean(TlsConnector);

pub(crate) struct CleanStream<S>(TlsStream<S>);

impl<S> MakeTlsConnect<S> for MakeClean
where
    S: AsyncRead + AsyncWrite + Unpin + 'static + Send,
{
    type Stream = CleanStream<S>;
    type TlsConnect = Clean;
    type Error = native_tls::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<Clean, native_tls::Error> {
        MakeTlsConnect::<S>::make_tls_connect(&mut self.0, domain).map(Clean)
    }
}

impl<S> TlsConnect<S> for Clean
where
    S: AsyncRead + AsyncWrite + Unpin + 'static + Send,
{
    type Stream = CleanStream<S>;
    type Error = native_tls::Error;
    #[allow(clippy::type_complexity)]
    type Future = Pin<Box<dyn Future<Output = Result<CleanStream<S>, native_tls::Error>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        let mut handshake = TlsConnect::<S>::connect(self.0, stream);
        Box::pin(std::future::poll_fn(move |cx| {
            clear_errors();
            handshake.as_mut().poll(cx).map(|r| r.map(CleanStream))
        }))
    }
}

impl<S> AsyncRead for CleanStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        clear_errors();
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S> AsyncWrite for CleanStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        clear_errors();
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        clear_errors();
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        clear_errors();
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S> postgres::tls::TlsStream for CleanStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn channel_binding(&self) -> ChannelBinding {
        postgres::tls::TlsStream::channel_binding(&self.0)
    }
}
