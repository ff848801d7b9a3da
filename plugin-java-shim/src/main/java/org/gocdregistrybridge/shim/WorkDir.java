package org.gocdregistrybridge.shim;

import static java.nio.file.LinkOption.NOFOLLOW_LINKS;
import static org.gocdregistrybridge.shim.RegistryBridgePlugin.LOG;

import java.io.*;
import java.math.BigInteger;
import java.nio.file.*;
import java.nio.file.attribute.*;
import java.security.*;
import java.util.*;

/**
 * Where the sidecar file is unpacked and run from. Any user who can write there can run code as the GoCD user, so
 * the dir must be ours alone and the file is checked against the jar's copy before every launch (issue 9).
 */
final class WorkDir {
    private static final String NAME = "gocd-registry-bridge";
    // .cjs: Node then reads no package.json "type" from the parents, which another user could plant in /tmp.
    static final String FILE = NAME + ".cjs";
    private static final Set<PosixFilePermission> WRITABLE_BY_OTHERS = EnumSet.of(PosixFilePermission.GROUP_WRITE,
            PosixFilePermission.OTHERS_WRITE);
    private static final int STICKY = 01000;

    private final boolean posix; // false on Windows: no owners or modes to check, only the hash
    private final UserPrincipal me;
    private final UserPrincipal root;

    private WorkDir(FileSystem fs) throws IOException {
        posix = fs.supportedFileAttributeViews().contains("posix");
        me = posix ? currentUser(fs) : null;
        root = posix ? fs.getUserPrincipalLookupService().lookupPrincipalByName("0") : null; // by uid: no passwd entry needed
    }

    /** The JVM's user by name; a uid without a passwd entry (e.g. a container's arbitrary uid) as Linux shows it. */
    static UserPrincipal currentUser(FileSystem fs) throws IOException {
        try {
            return fs.getUserPrincipalLookupService().lookupPrincipalByName(System.getProperty("user.name"));
        } catch (UserPrincipalNotFoundException e) {
            return Files.getOwner(fs.getPath("/proc/self"));
        }
    }

    /**
     * The dirs to try, in order: the setting alone; else the user's cache dir, then a per-user dir in java.io.tmpdir
     * for a user without a usable home. Not GoCD's plugins_work: GoCD wipes that on every start.
     */
    static List<Path> candidates(String setting, String xdgCacheHome) {
        if (setting != null) {
            return List.of(Paths.get(setting));
        }
        List<Path> dirs = new ArrayList<>();
        String home = System.getProperty("user.home", "");
        if (xdgCacheHome != null && Paths.get(xdgCacheHome).isAbsolute()) {
            dirs.add(Paths.get(xdgCacheHome, NAME));
        } else if (Paths.get(home).isAbsolute()) {
            dirs.add(Paths.get(home, ".cache", NAME));
        }
        String user = System.getProperty("user.name", "").replaceAll("[^A-Za-z0-9._-]", "_");
        dirs.add(Paths.get(System.getProperty("java.io.tmpdir"), NAME + "-" + user));
        return dirs;
    }

    /** What to unpack: its name in the hash dir, whether it is run directly, its SHA-256 and its bytes (read once, streamed). */
    static final class Payload {
        final String fileName;
        final boolean executable;
        final String sha256;
        final Opener contents;

        Payload(String fileName, boolean executable, String sha256, Opener contents) {
            this.fileName = fileName;
            this.executable = executable;
            this.sha256 = sha256;
            this.contents = contents;
        }

        /** The sidecar bundle, run by a Node.js: {@code gocd-registry-bridge.cjs}. */
        static Payload script(byte[] script) {
            return new Payload(FILE, false, sha256(script), () -> new ByteArrayInputStream(script));
        }
    }

    interface Opener {
        InputStream open() throws IOException;
    }

    /** Unpacks script to {@code <first usable dir>/<sha256>/gocd-registry-bridge.cjs} unless the copy there is intact. */
    static Path unpack(List<Path> candidates, byte[] script) throws BridgeException {
        return unpack(candidates, Payload.script(script));
    }

    /** Unpacks payload to {@code <first usable dir>/<sha256>/<name>} unless the copy there is intact. */
    static Path unpack(List<Path> candidates, Payload payload) throws BridgeException {
        WorkDir checks;
        try {
            checks = new WorkDir(candidates.get(0).getFileSystem());
        } catch (IOException e) {
            throw new BridgeException("cannot tell which user this JVM runs as (" + BridgeException.describe(e)
                    + "); give the user GoCD runs as a passwd entry");
        }
        for (Iterator<Path> dirs = candidates.iterator(); ; ) {
            Path dir = dirs.next();
            try {
                return checks.unpackTo(dir, payload);
            } catch (BridgeException e) {
                if (!dirs.hasNext()) {
                    throw e;
                }
                LOG.warn("sidecar: not using " + dir + " (" + e.getMessage() + "); trying the next work dir");
            }
        }
    }

    private Path unpackTo(Path dir, Payload payload) throws BridgeException {
        String hash = payload.sha256;
        Path file = dir.resolve(hash).resolve(payload.fileName);
        String fileMode = payload.executable ? "rwx------" : "rw-------";
        try {
            Files.createDirectories(dir, mode("rwx------"));
            Path real = dir.toRealPath(); // used from here on: a symlink someone else owns cannot be re-pointed under us
            checkPrivate(real, dir.equals(real) ? dir.toString() : dir + " (a symlink to " + real + ")");
            for (Path parent = real.getParent(); parent != null; parent = parent.getParent()) {
                checkParent(parent, dir);
            }
            Path hashDir = real.resolve(hash);
            try {
                Files.createDirectory(hashDir, mode("rwx------"));
            } catch (FileAlreadyExistsException e) {
                checkPrivate(hashDir, hashDir.toString());
            }
            file = hashDir.resolve(payload.fileName);
            String damage = damage(file, hash);
            if (damage == null) {
                return file;
            }
            if (Files.exists(file, NOFOLLOW_LINKS)) {
                LOG.warn("sidecar: " + file + " is not the jar's copy (" + damage + "); unpacking it again");
            }
            // Renamed into place, so concurrent JVMs never run half a file.
            Path temp = Files.createTempFile(hashDir, NAME, ".tmp", mode(fileMode));
            try {
                String written;
                try (InputStream in = payload.contents.open(); OutputStream out = Files.newOutputStream(temp)) {
                    written = copyHashing(in, out);
                }
                if (!written.equals(hash)) {
                    throw new BridgeException("the plugin jar's " + payload.fileName + " does not match its SHA-256 (" + hash
                            + ", unpacked " + written + "); the jar is damaged: download it again and reinstall the plugin");
                }
                Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                Files.deleteIfExists(temp);
            }
            return file;
        } catch (IOException e) {
            throw new BridgeException("cannot write the sidecar to " + file.getParent() + " (" + BridgeException.describe(e)
                    + "); make it writable or set " + BridgeConfig.WORK_DIR);
        }
    }

    /** Permissions set at creation, so there is no window before a chmod; none where files have no POSIX modes. */
    private FileAttribute<?>[] mode(String permissions) {
        return posix ? new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(permissions))}
                : new FileAttribute<?>[0];
    }

    /** Refuses a dir that is not a real dir, is not ours, or that others can write. */
    private void checkPrivate(Path dir, String label) throws IOException, BridgeException {
        if (posix) {
            PosixFileAttributes attributes = Files.readAttributes(dir, PosixFileAttributes.class, NOFOLLOW_LINKS);
            String problem = attributes.isDirectory() ? exposure(attributes) : attributes.isSymbolicLink() ? "a symlink" : "not a directory";
            if (problem != null) {
                throw unsafe(label, problem, "remove it or chown it to " + me.getName() + " and chmod it 700");
            }
        }
    }

    /** Another owner, or write access for group or others: what lets another user swap what we run; null if neither. */
    private String exposure(PosixFileAttributes attributes) {
        if (!attributes.owner().equals(me)) {
            return "owned by " + attributes.owner().getName() + ", not " + me.getName();
        }
        boolean writable = !Collections.disjoint(attributes.permissions(), WRITABLE_BY_OTHERS);
        return writable ? "writable by group or others (" + PosixFilePermissions.toString(attributes.permissions()) + ")" : null;
    }

    /** A parent others can write (without the sticky bit, as /tmp has) lets them rename the work dir and put theirs there. */
    private void checkParent(Path parent, Path dir) throws IOException, BridgeException {
        if (!posix) {
            return;
        }
        PosixFileAttributes attributes = Files.readAttributes(parent, PosixFileAttributes.class, NOFOLLOW_LINKS);
        UserPrincipal owner = attributes.owner();
        if (!owner.equals(me) && !owner.equals(root)) {
            throw unsafe(dir.toString(), "its parent " + parent + " is owned by " + owner.getName() + ", not "
                    + (me.equals(root) ? "root" : me.getName() + " or root"), "chown " + parent + " to " + me.getName());
        }
        if (!Collections.disjoint(attributes.permissions(), WRITABLE_BY_OTHERS)
                && ((Integer) Files.getAttribute(parent, "unix:mode", NOFOLLOW_LINKS) & STICKY) == 0) {
            throw unsafe(dir.toString(), "its parent " + parent + " is writable by group or others ("
                    + PosixFilePermissions.toString(attributes.permissions()) + ") without the sticky bit",
                    "chmod go-w " + parent);
        }
    }

    private BridgeException unsafe(String label, String problem, String fix) {
        return new BridgeException("unsafe work dir " + label + ": " + problem + ", so another local user could replace "
                + "the sidecar that runs as " + me.getName() + "; " + fix + ", or set " + BridgeConfig.WORK_DIR
                + " to a directory only " + me.getName() + " can write");
    }

    /** Why the file is not the jar's copy, or null if it is: ours, a regular file, closed to others, the right hash. */
    private String damage(Path file, String hash) throws IOException {
        BasicFileAttributes attributes;
        try {
            attributes = posix ? Files.readAttributes(file, PosixFileAttributes.class, NOFOLLOW_LINKS)
                    : Files.readAttributes(file, BasicFileAttributes.class, NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return "missing";
        }
        if (!attributes.isRegularFile()) {
            return attributes.isSymbolicLink() ? "a symlink" : "not a regular file";
        }
        String exposure = posix ? exposure((PosixFileAttributes) attributes) : null;
        if (exposure != null) {
            return exposure;
        }
        String actual;
        try (InputStream in = Files.newInputStream(file, NOFOLLOW_LINKS)) {
            actual = copyHashing(in, OutputStream.nullOutputStream()); // streamed: the executable is over 100 MB
        }
        return actual.equals(hash) ? null : "SHA-256 " + actual;
    }

    static String sha256(byte[] bytes) {
        MessageDigest digest = sha256();
        return hex(digest.digest(bytes));
    }

    /** Copies in to out and returns the SHA-256 of what passed. */
    private static String copyHashing(InputStream in, OutputStream out) throws IOException {
        MessageDigest digest = sha256();
        byte[] buffer = new byte[1 << 16];
        for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) {
            digest.update(buffer, 0, n);
            out.write(buffer, 0, n);
        }
        return hex(digest.digest());
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

    private static String hex(byte[] hash) {
        return String.format("%064x", new BigInteger(1, hash));
    }
}
