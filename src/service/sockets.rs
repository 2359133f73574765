//! The UDP sockets the service receives on.
//!
//! IPv6 sockets are v6-only so that `0.0.0.0:2055` and `[::]:2055` can both be bound. The
//! receive buffer is asked for and what the kernel granted is reported, since a capped buffer
//! is the first place datagrams are lost under load.

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

/// A bound, non-blocking socket and what its receive buffer turned out to be.
pub struct Listener {
    pub address: SocketAddr,
    pub socket: mio::net::UdpSocket,
    /// Bytes the kernel granted (Linux reports twice the usable size; this is halved).
    pub receive_buffer: usize,
}

/// Binds `address`; `reuse_port` lets several workers share it.
pub fn bind(address: SocketAddr, receive_buffer: usize, reuse_port: bool) -> io::Result<Listener> {
    let socket = Socket::new(
        Domain::for_address(address),
        Type::DGRAM,
        Some(Protocol::UDP),
    )?;
    if address.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.set_recv_buffer_size(receive_buffer)?;
    socket.set_nonblocking(true)?;
    socket.bind(&address.into())?;

    let granted = socket.recv_buffer_size()? / 2;
    let std_socket: std::net::UdpSocket = socket.into();
    let local = std_socket.local_addr()?;
    Ok(Listener {
        address: local,
        socket: mio::net::UdpSocket::from_std(std_socket),
        receive_buffer: granted,
    })
}
