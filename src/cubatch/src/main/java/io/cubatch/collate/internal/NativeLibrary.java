package io.cubatch.collate.internal;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * libcubatch (native/cubatch.h), loaded once from the jar: every downcall handle in one place, resolved when
 * this class initialises. When the library for this platform is not packaged, cannot be loaded, lacks a
 * symbol or has another ABI version, {@link #get()} is empty and {@link #unavailableReason()} says which.
 * The library stays loaded for the life of the JVM (global arena), like any shared library.
 */
public final class NativeLibrary {
    /** Must equal CB_ABI_VERSION in native/cubatch.h. */
    static final int ABI_VERSION = 3;

    public final MethodHandle pad;
    /**
     * cb_pad again as a critical downcall ({@link Linker.Option#critical}): the call skips the thread-state
     * transitions into and out of native code (8 % of a batch of 8 samples under perf), and the JVM cannot reach
     * a safepoint until it returns. Only for batches that libcubatch pads on the calling thread within
     * microseconds ({@link NativeCollator#CRITICAL_BYTES}): no lock, no wait, no upcall, no heap segment.
     */
    public final MethodHandle padCritical;
    public final MethodHandle stack;
    /** cb_pack: the CPU twin of cb_pack_kernel. */
    public final MethodHandle pack;
    public final MethodHandle copy;
    /** {@code int32_t cb_struct_layout(int32_t which, int64_t* out, int32_t capacity)}. */
    public final MethodHandle structLayout;

    /**
     * A pointer parameter that receives the collator's own scratch memory as a plain address (a {@code long}, as
     * {@link MemorySegment#address()}), not a segment. A segment argument makes the downcall acquire and release
     * its arena's session, two atomic operations per call for a shared arena; for its own scratch the collator
     * needs neither, since its {@link io.cubatch.collate.SingleUser} guard keeps {@code close()}, the only
     * thing that frees that memory, waiting until the call has returned. Pointers and 64-bit integers are passed
     * alike by every 64-bit C calling convention the library is built for.
     */
    private static final java.lang.foreign.MemoryLayout OWN = JAVA_LONG;

    private static final Object[] LOADED = load();

    private NativeLibrary(MethodHandle pad, MethodHandle padCritical, MethodHandle stack, MethodHandle pack,
                          MethodHandle copy, MethodHandle structLayout) {
        this.pad = pad;
        this.padCritical = padCritical;
        this.stack = stack;
        this.pack = pack;
        this.copy = copy;
        this.structLayout = structLayout;
    }

    public static Optional<NativeLibrary> get() {
        return Optional.ofNullable((NativeLibrary) LOADED[0]);
    }

    /** Why the library is not available, or empty when it is. */
    public static String unavailableReason() {
        return (String) LOADED[1];
    }

    /** The platforms the build packages libcubatch for (scripts/native-cross.sh builds the other one). */
    public static final List<String> PLATFORMS = List.of("linux-x86_64", "linux-aarch64");

    /**
     * The jar's name for a platform ({@code linux-x86_64}, {@code linux-aarch64}), from the JVM's
     * {@code os.name} and {@code os.arch} ({@code amd64} and {@code x86_64} are one platform, as are
     * {@code aarch64} and {@code arm64}); empty for a platform cubatch builds no library for.
     */
    static Optional<String> platform(String osName, String osArch) {
        if (!osName.toLowerCase(Locale.ROOT).startsWith("linux")) {
            return Optional.empty();
        }
        return switch (osArch.toLowerCase(Locale.ROOT)) {
            case "amd64", "x86_64" -> Optional.of("linux-x86_64");
            case "aarch64", "arm64" -> Optional.of("linux-aarch64");
            default -> Optional.empty();
        };
    }

    /** The resource path of the library for this OS and architecture, or empty when there is none. */
    static Optional<String> resourceName() {
        return platform(System.getProperty("os.name"), System.getProperty("os.arch"))
                .map(p -> "/io/cubatch/native/" + p + "/libcubatch.so");
    }

    /** Why this JVM's platform has no library: one of the packaged platforms, or another one. */
    static String noLibraryReason(String osName, String osArch, Optional<String> buildNote) {
        Optional<String> p = platform(osName, osArch);
        if (p.isEmpty()) {
            return "no native library for " + osName + " " + osArch + " (cubatch builds libcubatch for "
                    + String.join(" and ", PLATFORMS) + "): the java backend collates instead, with the same results";
        }
        return "no native library packaged for " + p.get() + " (" + buildNote.orElse("io/cubatch/native/" + p.get()
                + "/libcubatch.so missing from the jar") + "): the java backend collates instead, with the same results";
    }

    private static Object[] load() {
        Optional<String> name = resourceName();
        URL url = name.map(NativeLibrary.class::getResource).orElse(null);
        if (url == null) {
            Optional<String> note = platform(System.getProperty("os.name"), System.getProperty("os.arch"))
                    .flatMap(NativeLibrary::buildNote);
            return new Object[] {null, noLibraryReason(System.getProperty("os.name"), System.getProperty("os.arch"), note)};
        }
        String resource = name.get();
        Path file;
        try {
            file = localFile(url);
        } catch (IOException | URISyntaxException e) {
            return new Object[] {null, "could not extract " + resource + ": " + e.getMessage()};
        }
        SymbolLookup lib;
        try {
            lib = SymbolLookup.libraryLookup(file, Arena.global());
        } catch (IllegalArgumentException e) {
            return new Object[] {null, "could not load " + file + ": " + e.getMessage()};
        }
        Linker linker = Linker.nativeLinker();
        try {
            MethodHandle version = downcall(linker, lib, "cb_abi_version", FunctionDescriptor.of(JAVA_INT));
            int v = (int) version.invokeExact();
            if (v != ABI_VERSION) {
                return new Object[] {null, "libcubatch has ABI version " + v + ", this jar needs " + ABI_VERSION
                        + ": rebuild (./test or mvn package) so the jar and the library match"};
            }
            // OWN: the collator's own scratch (indices, pad value, error word, packing tables)
            FunctionDescriptor padFd = FunctionDescriptor.of(JAVA_INT,
                    ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG, OWN, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                    JAVA_INT, JAVA_INT, JAVA_INT, OWN, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, OWN);
            MethodHandle pad = downcall(linker, lib, "cb_pad", padFd);
            MethodHandle padCritical = downcall(linker, lib, "cb_pad", padFd, Linker.Option.critical(false));
            MethodHandle stack = downcall(linker, lib, "cb_stack", FunctionDescriptor.of(JAVA_INT,
                    ADDRESS, JAVA_INT, JAVA_LONG, OWN, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, OWN));
            MethodHandle pack = downcall(linker, lib, "cb_pack", FunctionDescriptor.of(JAVA_INT,
                    ADDRESS, JAVA_INT, JAVA_LONG, OWN, OWN, OWN, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT,
                    ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, OWN, OWN));
            MethodHandle copy = downcall(linker, lib, "cb_copy", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS, JAVA_LONG));
            MethodHandle layout = downcall(linker, lib, "cb_struct_layout",
                    FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
            return new Object[] {new NativeLibrary(pad, padCritical, stack, pack, copy, layout), ""};
        } catch (MissingSymbol e) {
            return new Object[] {null, e.getMessage()};
        } catch (Throwable e) {
            return new Object[] {null, "libcubatch failed its version check: " + e};
        }
    }

    /** What the build wrote when it could not build the library for {@code platform} (no cross toolchain). */
    static Optional<String> buildNote(String platform) {
        try (java.io.InputStream in = NativeLibrary.class.getResourceAsStream(
                "/io/cubatch/native/" + platform + "-unavailable.txt")) {
            return in == null ? Optional.empty()
                    : Optional.of(new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).strip());
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static final class MissingSymbol extends Exception {
        MissingSymbol(String message) {
            super(message);
        }
    }

    private static MethodHandle downcall(Linker linker, SymbolLookup lib, String name, FunctionDescriptor fd,
                                         Linker.Option... options) throws MissingSymbol {
        return linker.downcallHandle(lib.find(name).orElseThrow(() -> new MissingSymbol(
                "libcubatch lacks the symbol " + name + ": the library is older than this jar; rebuild")), fd, options);
    }

    /** The library as a file: as is from a classes directory, else extracted once to a temporary file. */
    private static Path localFile(URL url) throws IOException, URISyntaxException {
        if ("file".equals(url.getProtocol())) {
            return Path.of(url.toURI());
        }
        Path tmp = Files.createTempFile("libcubatch", ".so");
        tmp.toFile().deleteOnExit();
        try (InputStream in = url.openStream()) {
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
        }
        return tmp;
    }
}
