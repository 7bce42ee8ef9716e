"""A peer that answers forever without completing an answer, for tests of deadlines."""
import socket
import threading


class TricklingPeer:
    """A listener (TCP or a Unix socket) that sends every connection `first` at once, then one
    byte every `interval` seconds, never a complete answer: a Runtime API, app server or
    trace backend that hangs while looking alive."""

    def __init__(self, family, address, first=b"", interval=0.05):
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.listener.bind(address)
        self.listener.listen(8)
        self.address = self.listener.getsockname()
        self.first, self.interval = first, interval
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.stopped.is_set():
            try:
                connection, _peer = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._trickle, args=(connection,), daemon=True).start()

    def _trickle(self, connection):
        with connection:
            try:
                connection.sendall(self.first)
                while not self.stopped.wait(self.interval):
                    connection.sendall(b"x")
            except OSError:
                pass

    def close(self):
        self.stopped.set()
        self.listener.close()
