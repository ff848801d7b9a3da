package org.gocdregistrybridge.shim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.nio.file.attribute.*;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.DisabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

/**
 * Another local user must not get code run as the GoCD user through the sidecar file: the work dir is ours alone
 * and the file is the jar's copy at every launch (issue 9). "Another user" is uid 65534, which needs root to make.
 */
@DisabledOnOs(OS.WINDOWS)
class WorkDirTest {
    private static final byte[] SCRIPT = "console.log('the jar\\'s copy');\n".getBytes(StandardCharsets.UTF_8);
    private static final String HASH = WorkDir.sha256(SCRIPT);

    @TempDir
    Path dir;
    private String me; // by name, or as a number for a uid without a passwd entry

    @BeforeEach
    void learnWhoIAm() throws IOException {
        me = Files.getOwner(dir).getName();
    }

    private static Path unpack(Path... candidates) throws BridgeException {
        return WorkDir.unpack(List.of(candidates), SCRIPT);
    }

    private static String refusal(Path... candidates) {
        return assertThrows(BridgeException.class, () -> unpack(candidates)).getMessage();
    }

    private static String mode(Path path) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(path, LinkOption.NOFOLLOW_LINKS));
    }

    private static Path chmod(Path path, String mode) throws IOException {
        return Files.setPosixFilePermissions(path, PosixFilePermissions.fromString(mode));
    }

    /** Gives path to uid 65534; skips the test where this JVM may not (only root may give a file away). */
    private Path giveToNobody(Path path) throws IOException {
        UserPrincipal nobody = path.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("65534");
        assumeTrue(!Files.getOwner(path).equals(nobody), "skipped: this runs as uid 65534, the test's other user");
        try {
            Files.setOwner(path, nobody);
        } catch (FileSystemException e) {
            assumeTrue(false, "skipped: only root can give a file to another user (uid 65534), and this runs as " + me);
        }
        return path;
    }

    @Test
    void createsTheDirsClosedToOthersAndTheFileReadableOnlyByItsOwner() throws Exception {
        Path work = dir.resolve("cache/gocd-registry-bridge");

        Path file = unpack(work);

        assertEquals(work.resolve(HASH).resolve(WorkDir.FILE), file);
        assertArrayEquals(SCRIPT, Files.readAllBytes(file));
        assertEquals("rwx------", mode(dir.resolve("cache")));
        assertEquals("rwx------", mode(work));
        assertEquals("rwx------", mode(work.resolve(HASH)));
        assertEquals("rw-------", mode(file));
    }

    @Test
    void replacesAPlantedSameSizeFileWithTheJarsCopyBeforeTheNextLaunch() throws Exception {
        Path file = unpack(dir);
        byte[] planted = Arrays.copyOf("process.exit(66) //".getBytes(StandardCharsets.UTF_8), SCRIPT.length);
        Arrays.fill(planted, 19, planted.length, (byte) 'x'); // the same size: the old shim compared only sizes
        Files.write(file, planted);

        assertEquals(file, unpack(dir));
        assertArrayEquals(SCRIPT, Files.readAllBytes(file));
    }

    @Test
    void replacesACopyThatIsASymlinkOrWritableByOthersEvenWithTheRightContent() throws Exception {
        Path file = unpack(dir);
        Path elsewhere = Files.write(dir.resolve("elsewhere.js"), SCRIPT);
        Files.delete(file);
        Files.createSymbolicLink(file, elsewhere);
        unpack(dir);
        assertEquals("rw-------", mode(file), "a regular file again, not the link");

        chmod(file, "rw-rw-rw-");
        unpack(dir);
        assertEquals("rw-------", mode(file));
        assertArrayEquals(SCRIPT, Files.readAllBytes(file));
    }

    @Test
    void replacesACopyOwnedByAnotherUser() throws Exception {
        Path file = giveToNobody(unpack(dir));

        unpack(dir);

        assertEquals(me, Files.getOwner(file).getName());
        assertArrayEquals(SCRIPT, Files.readAllBytes(file));
    }

    @Test
    void refusesAWorkDirOwnedByAnotherUser() throws Exception {
        Path work = giveToNobody(Files.createDirectory(dir.resolve("work")));

        assertEquals("unsafe work dir " + work + ": owned by nobody, not " + me + ", so another local user could replace "
                + "the sidecar that runs as " + me + "; remove it or chown it to " + me + " and chmod it 700, or set "
                + "GOCD_REGISTRY_BRIDGE_WORK_DIR to a directory only " + me + " can write", refusal(work));
        assertEquals(List.of(), List.of(work.toFile().list()), "nothing unpacked there");
    }

    @Test
    void refusesAWorkDirWritableByGroupOrOthers() throws Exception {
        for (String mode : List.of("rwxrwx---", "rwx---rwx")) {
            Path work = chmod(Files.createDirectories(dir.resolve(mode)), mode);

            assertEquals("unsafe work dir " + work + ": writable by group or others (" + mode + "), so another local user "
                    + "could replace the sidecar that runs as " + me + "; remove it or chown it to " + me + " and chmod it 700, or "
                    + "set GOCD_REGISTRY_BRIDGE_WORK_DIR to a directory only " + me + " can write", refusal(work));
        }
    }

    @Test
    void refusesAHashDirOwnedByAnotherUser() throws Exception {
        Path hashDir = giveToNobody(Files.createDirectory(dir.resolve(HASH)));

        assertEquals("unsafe work dir " + hashDir + ": owned by nobody, not " + me, refusal(dir).split(", so ")[0]);
    }

    @Test
    void refusesASymlinkToADirOwnedByAnotherUser() throws Exception {
        Path foreign = giveToNobody(Files.createDirectory(dir.resolve("foreign")));
        Path link = Files.createSymbolicLink(dir.resolve("link"), foreign);

        assertEquals("unsafe work dir " + link + " (a symlink to " + foreign + "): owned by nobody, not " + me,
                refusal(link).split(", so ")[0]);
    }

    @Test
    void followsASymlinkToADirOfItsOwnAndRunsFromTheRealPath() throws Exception {
        Path own = Files.createDirectory(dir.resolve("own"));

        Path file = unpack(Files.createSymbolicLink(dir.resolve("link"), own));

        assertEquals(own.resolve(HASH).resolve(WorkDir.FILE), file);
    }

    @Test
    void refusesAWorkDirInAParentOthersCanWriteWithoutTheStickyBit() throws Exception {
        Path shared = chmod(Files.createDirectory(dir.resolve("shared")), "rwxrwxrwx");
        Path work = shared.resolve("work");

        assertEquals("unsafe work dir " + work + ": its parent " + shared + " is writable by group or others (rwxrwxrwx) "
                + "without the sticky bit, so another local user could replace the sidecar that runs as " + me + "; chmod "
                + "go-w " + shared + ", or set GOCD_REGISTRY_BRIDGE_WORK_DIR to a directory only " + me + " can write",
                refusal(work));

        Files.setAttribute(shared, "unix:mode", 01777); // as /tmp: others cannot rename what they do not own
        unpack(work);
    }

    @Test
    void refusesAWorkDirInAParentOwnedByAnotherUser() throws Exception {
        Path parent = giveToNobody(Files.createDirectory(dir.resolve("parent")));
        Path work = Files.createDirectory(parent.resolve("work"));

        assertEquals("unsafe work dir " + work + ": its parent " + parent + " is owned by nobody, not "
                + (me.equals("root") ? "root" : me + " or root"), refusal(work).split(", so ")[0]);
    }

    @Test
    void fallsBackToTheNextDirWhenOneIsUnusableAndReportsTheLast() throws Exception {
        Path notADir = Files.write(dir.resolve("home"), new byte[0]).resolve(".cache");
        Path fallback = dir.resolve("fallback");

        assertEquals(fallback.resolve(HASH).resolve(WorkDir.FILE), unpack(notADir, fallback));

        chmod(fallback, "rwxrwxrwx");
        assertEquals("unsafe work dir " + fallback + ": writable by group or others (rwxrwxrwx)",
                refusal(notADir, fallback).split(", so ")[0]);
    }

    @Test
    void knowsItsUserWithoutAPasswdEntry() throws Exception {
        assumeTrue(Files.exists(Paths.get("/proc/self")), "skipped: no /proc (not Linux)");
        UserPrincipal owner = Files.getOwner(Files.createFile(dir.resolve("mine")));
        String name = System.getProperty("user.name");
        System.setProperty("user.name", "?"); // what the JDK sets for a uid without a passwd entry
        try {
            assertEquals(owner, WorkDir.currentUser(dir.getFileSystem()));
        } finally {
            System.setProperty("user.name", name);
        }
    }
}
