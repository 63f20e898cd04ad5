export * from './frames';
export { DEFAULT_LIMITS, resolveLimits, type ProtocolLimits } from './limits';
export { CloseCodes, ERROR_POLICIES, closeCodeFor, closeReason, errorFrameFor, policyFor, toDuelError, type ErrorPolicy } from './error-policy';
export { validateFrame, type Layout, type ValidationContext } from './validate';
export {
  decodeFrame,
  decodeFrameDetailed,
  encodeFrame,
  encodeWeightsOnce,
  FLAG_TENSORS,
  FRAME_MAGIC,
  FRAME_PREFIX_BYTES,
  TENSOR_FIELDS,
  WeightsBroadcastCache,
  type DecodedFrame,
  type EncodedWeights,
} from './codec';
export { HOST_LITTLE_ENDIAN, TENSOR_ALIGN, type DType, type TensorData, type TensorDescriptor, type WireTensor } from './tensor-section';
export { limitsFor, maxPayloadFor, PAYLOAD_MARGIN_BYTES } from './max-payload';
export { admitFrame, type SessionPhase } from './session';
