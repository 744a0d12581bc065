import VeloFormat
import VeloStorage

/// Which frames of the previous snapshot a new frame may be compressed against (its delta bases, `FrameTable`):
/// the frames holding the old versions of the segments it replaces. When a run of rows changes a little (a
/// counter bumped in a contiguous 1% of a table each day), the new segments are nearly the old ones, and a frame
/// compressed against them is a few percent of a plain frame's size. A frame is a delta candidate only while its
/// bases stay within `SegmentFormat.maxDeltaBaseBytes` and `FrameTable.maxBases` frames (what a reader takes): after
/// scattered updates of a large table the old versions lie in many frames, and reading them all for one new frame
/// would cost every later read more than it saves.
package struct DeltaBases {
    private(set) var frames: [SegmentList.Frame] = []
    private var bytes = 0
    private var overflow = false

    /// Notes that the frame being gathered replaces a segment of `frame` (a delta frame stands for its bases:
    /// a base is never a delta frame).
    mutating func noteReplaced(in frame: SegmentList.Frame) {
        guard !overflow else { return }
        for base in frame.bases.isEmpty ? [frame] : frame.bases where frames.last != base && !frames.contains(base) {
            bytes += base.rawBytes
            guard bytes <= SegmentFormat.maxDeltaBaseBytes, frames.count < FrameTable.maxBases else {
                overflow = true
                frames = []
                return
            }
            frames.append(base)
        }
    }

    /// The bases of the frame being handed over (empty when it has none or too many), and a fresh start for
    /// the next frame.
    mutating func take() -> [SegmentList.Frame] {
        defer { self = DeltaBases() }
        return overflow ? [] : frames
    }
}
