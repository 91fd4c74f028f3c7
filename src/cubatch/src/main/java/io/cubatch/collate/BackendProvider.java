package io.cubatch.collate;

import java.util.Optional;

/**
 * A collation backend, as a plugin: found by {@link java.util.ServiceLoader} (a
 * {@code META-INF/services/io.cubatch.collate.BackendProvider} entry, or a {@code provides} clause), listed
 * by {@link Backends}. cubatch ships three: {@code java}, {@code native} and {@code cuda}. The collation API
 * knows none of them by class: a backend is added by putting its provider on the class path.
 *
 * <p>Implementations have a public no-argument constructor, are cheap to construct, and decide
 * {@link #unavailableReason()} without side effects a second call could see differently.
 */
public interface BackendProvider {

    /** Where a backend's own batches live: host memory, or a GPU's. */
    enum Memory {
        /** Host memory: {@link Collator#pad} fills caller buffers in place. */
        HOST,
        /** Device memory: batches are built on a GPU; {@link Collator#pad} copies them back to the host. */
        DEVICE
    }

    /**
     * The backend's name, lower case: what {@link Backends#create} and the CLI's {@code --backend} take.
     *
     * @return the name, unique among the providers
     */
    String name();

    /**
     * The memory its batches live in.
     *
     * @return host or device
     */
    Memory memory();

    /**
     * Preference among backends of the same memory, lower first ({@code native} 10, {@code java} 20): the
     * fastest available host backend is {@link Backends#bestName()}.
     *
     * @return the preference
     */
    int preference();

    /**
     * Why the backend cannot run here (no driver, library not packaged, ...), or empty when it can.
     *
     * @return the reason, or empty
     */
    Optional<String> unavailableReason();

    /**
     * A new collator; the caller closes it. Called only when {@link #unavailableReason()} is empty. A device
     * backend opens device 0.
     *
     * @return the collator
     */
    Collator open();

    /**
     * Devices a device backend can open (0 for a host backend).
     *
     * @return the number of devices
     */
    default int devices() {
        return 0;
    }

    /**
     * A new collator on device {@code device} ({@code 0 <= device < devices()}); a host backend takes only
     * -1 (no device).
     *
     * @param device the device, or -1
     * @return the collator
     * @throws IllegalArgumentException naming the devices there are
     */
    default Collator open(int device) {
        if (device != -1) {
            throw new IllegalArgumentException("backend " + name() + " runs on the host: it has no device " + device);
        }
        return open();
    }
}
