#!/usr/bin/env python3
"""A TCP proxy on 127.0.0.1 that forwards raw bytes to a server, and misbehaves on request.

The upload tests put it in front of radosgw or nginx. Requests pass unchanged, so a SigV4
signature made for the proxy's address stays valid; each answer gets "Connection: close", so
every request comes on a connection of its own and the faults below count requests:
  --fail-first N      the first N requests are answered with STATUS (an S3 <Error> body,
                      SlowDown for 503) instead of reaching the server
  --fail-for SECONDS  the same for every request during the first SECONDS
  --fail-matching T   the same for every request whose request line contains T
  --drop-first N      the first N connections are closed without an answer
  --status CODE       the status of the failures (503 by default)
Prints the port it listens on as its first line (--port 0 picks a free one). SIGTERM ends it.
"""
import argparse
import asyncio
import signal
import sys
import time

REASONS = {500: "Internal Server Error", 503: "Slow Down", 429: "Too Many Requests"}
CODES = {500: "InternalError", 503: "SlowDown", 429: "SlowDown"}


def failure(status):
    body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>%s</Code>"
            "<Message>Please reduce your request rate.</Message></Error>" % CODES.get(status, "InternalError"))
    return ("HTTP/1.1 %d %s\r\nContent-Type: application/xml\r\nContent-Length: %d\r\n"
            "Connection: close\r\n\r\n%s" % (status, REASONS.get(status, "Error"), len(body), body)).encode()


async def pipe(reader, writer):
    try:
        while True:
            data = await reader.read(1 << 16)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


class Proxy:
    def __init__(self, args):
        self.args = args
        self.connections = 0
        self.started = time.monotonic()

    async def handle(self, client_reader, client_writer):
        self.connections += 1
        number = self.connections
        args = self.args
        if number <= args.drop_first:
            client_writer.close()
            return
        try:
            head = await client_reader.readuntil(b"\r\n\r\n")
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            client_writer.close()
            return
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        failing = (number <= args.fail_first or time.monotonic() - self.started < args.fail_for
                   or (args.fail_matching and args.fail_matching in request_line))
        if failing:
            client_writer.write(failure(args.status))
            try:
                await client_writer.drain()
            except ConnectionError:
                pass
            client_writer.close()
            return
        try:
            server_reader, server_writer = await asyncio.open_connection(args.target_host, args.target_port)
        except OSError:
            client_writer.close()
            return
        server_writer.write(head)
        await asyncio.gather(pipe(client_reader, server_writer), answer(server_reader, client_writer))


async def answer(server_reader, client_writer):
    """Forwards the server's answer with "Connection: close" (interim 100s as they are)."""
    try:
        while True:
            head = await server_reader.readuntil(b"\r\n\r\n")
            if head.startswith(b"HTTP/1.1 100") or head.startswith(b"HTTP/1.0 100"):
                client_writer.write(head)
                continue
            lines = [line for line in head[:-4].split(b"\r\n") if not line.lower().startswith(b"connection:")]
            client_writer.write(b"\r\n".join(lines + [b"Connection: close"]) + b"\r\n\r\n")
            break
    except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        client_writer.close()
        return
    await pipe(server_reader, client_writer)


async def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--target-host", default="127.0.0.1")
    parser.add_argument("--target-port", type=int, required=True)
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--fail-for", type=float, default=0)
    parser.add_argument("--fail-matching", default="")
    parser.add_argument("--drop-first", type=int, default=0)
    parser.add_argument("--status", type=int, default=503)
    args = parser.parse_args()
    proxy = Proxy(args)
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", args.port, reuse_address=True)
    print(server.sockets[0].getsockname()[1], flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
