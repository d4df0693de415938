import Glibc
import SlipwaySystem
import Synchronization

/// The running process's side of a seamless upgrade. It listens at DATA_DIR/takeover.sock (0600,
/// and only its own user id is answered) for a `slipway serve --takeover` of the same data
/// directory, then:
///
/// 1. prepares (`HandoverParticipant.prepareHandover`): no new deployment starts and running ones
///    finish, the supervisor leaves the apps alone, dashboard connections wait in the backlog;
/// 2. sends copies of every listening socket (dashboard, edges, each app's port);
/// 3. keeps serving the apps until the successor says it is ready, so no connection is refused
///    and none is answered "starting" while the successor looks for the containers;
/// 4. stops accepting (the sockets stay open in the successor) and its background work, says
///    so, and drains what it still relays before exiting.
///
/// If the successor ends before it is ready, everything paused goes on, as if nothing happened.
final class UpgradeHandover: Sendable {
    /// How long the successor may take from receiving the sockets to serving on them (its
    /// migrations and first look at Docker); past it this process serves on.
    static let readyTimeoutMilliseconds = 300_000

    private let listener: Mutex<Int32>
    private let participant: any HandoverParticipant
    private let handedOver = Atomic<Bool>(false)

    init(dataDir: String, participant: any HandoverParticipant) throws(IOError) {
        listener = Mutex(try LocalChannel.listen(path: TakeoverMessage.socketPath(dataDir: dataDir)))
        self.participant = participant
    }

    var hasHandedOver: Bool { handedOver.load(ordering: .acquiring) }

    /// Answers successors, one at a time, on a thread of its own, until one has taken over.
    func start() {
        OSThread.detach(name: "upgrade", stackSize: 256 * 1024) { [self] in
            while !hasHandedOver {
                let fd = listener.withLock { $0 }
                guard fd >= 0 else { return }
                do throws(IOError) {
                    handle(try LocalChannel.accept(fd))
                } catch {
                    if error.errno == EINTR || error.errno == ECONNABORTED { continue }
                    // Closed (SIGTERM) or broken: no more upgrades through this process.
                    return
                }
            }
        }
    }

    /// Answers no more successors. The socket's file stays: a successor may have bound its own there.
    func close() {
        listener.withLock { fd in
            if fd >= 0 {
                Glibc.shutdown(fd, Int32(SHUT_RDWR))
                Glibc.close(fd)
            }
            fd = -1
        }
    }

    private func handle(_ channel: LocalChannel) {
        guard channel.peerUserID == Int(getuid()) else {
            Log.warning("upgrade: refused a takeover from another user (uid \(channel.peerUserID.map(String.init) ?? "unknown"))")
            return
        }
        guard let hello = try? channel.receive(timeoutMilliseconds: 10_000) else { return }
        hello.descriptors.forEach { _ = Glibc.close($0) }
        guard hello.text.hasPrefix(TakeoverMessage.takeover) else {
            try? channel.send(TakeoverMessage.refused + "expected \"\(TakeoverMessage.takeover)\"")
            return
        }
        Log.info("upgrade: a new process asks to take over (\"\(hello.text.prefix(64))\")")
        let listeners: [HandedListener]
        do {
            listeners = try participant.prepareHandover()
        } catch {
            Log.warning("upgrade: not handing over: \(error)")
            try? channel.send(TakeoverMessage.refused + error.description)
            return
        }
        do {
            try channel.send(HandedListener.message(listeners), descriptors: listeners.map(\.fd))
        } catch {
            listeners.forEach { _ = Glibc.close($0.fd) }
            Log.error("upgrade: cannot pass the listening sockets: \(error); serving on")
            participant.abandonHandover()
            return
        }
        // The successor has its own copies now.
        listeners.forEach { _ = Glibc.close($0.fd) }
        Log.info("upgrade: passed \(listeners.count) listening sockets; serving until the new process is ready")
        let reply: LocalChannel.Message?
        do {
            reply = try channel.receive(timeoutMilliseconds: Self.readyTimeoutMilliseconds)
        } catch {
            reply = nil
        }
        guard let reply, reply.text == TakeoverMessage.ready else {
            reply?.descriptors.forEach { _ = Glibc.close($0) }
            Log.warning("upgrade: the new process ended or gave up before it was ready; this one serves on")
            participant.abandonHandover()
            return
        }
        handedOver.store(true, ordering: .releasing)
        participant.completeHandover()
        close()
        try? channel.send(TakeoverMessage.released)
        Log.info("upgrade: the new process serves; finishing what is in flight, then exiting")
    }
}
