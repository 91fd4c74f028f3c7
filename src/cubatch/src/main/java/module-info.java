/**
 * cubatch: batch plans, datasets, collation backends and the loader for JVM trainers. Exports the API
 * packages only; every {@code internal} package stays inside. The collation backends are
 * {@link io.cubatch.collate.BackendProvider} services: {@code java} and {@code native} are here, the CUDA
 * backend is the module {@code io.cubatch.cuda} (artifact {@code io.cubatch:cubatch-cuda}), which
 * {@code provides} one.
 *
 * <p>The native backend calls its C library through {@code java.lang.foreign}: run with
 * {@code --enable-native-access=io.cubatch} on the module path, or {@code --enable-native-access=ALL-UNNAMED}
 * on the class path. Without it the JDK prints a warning (and a future JDK will refuse the call).
 */
module io.cubatch {
    // JSONL datasets only (store.JsonlReader): optional, so a trainer that reads .npy or Megatron files needs
    // nothing more; Datasets.open says what to add when a .jsonl file meets its absence.
    requires static com.fasterxml.jackson.core;
    // Arrow IPC metadata (the Arrow project's flatbuffer classes) for store.ArrowReader: Hugging Face caches.
    requires org.apache.arrow.format;

    exports io.cubatch.plan;
    exports io.cubatch.store;
    exports io.cubatch.collate;
    exports io.cubatch.loader;

    uses io.cubatch.collate.BackendProvider;

    provides io.cubatch.collate.BackendProvider with io.cubatch.collate.internal.NativeBackendProvider,
            io.cubatch.collate.internal.JavaBackendProvider;
}
