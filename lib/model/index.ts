// Public surface of lib/model: find and read models (GGUF, HF safetensors), the ModelSpec contract,
// TS quantizers (the reference for native kernels) and writers for synthetic models.
export * from './types.js';
export { loadModelSpec } from './load-model-spec.js';
export { readTensorBytes, readTensorF32, findTensor } from './read-tensor.js';
export {
  ALL_DTYPES,
  dtypeInfo,
  dtypeName,
  dtypeFromGgmlType,
  isQuantized,
  tensorByteLength,
  numElements,
} from './dtype-info.js';
export type { DTypeInfo } from './dtype-info.js';
export {
  SUPPORTED_ARCHITECTURES,
  VECTOR_DTYPES,
  requiredTensors,
  validateModelTensors,
  validateConfig,
} from './architecture.js';
export type { TensorRequirement, AvailableTensor } from './architecture.js';
export { llama3RopeFreqFactors } from './rope-freq-factors.js';

export { readGguf, readGgufSync } from './gguf/reader.js';
export type { GgufFile, GgufTensorInfo } from './gguf/reader.js';
export { ggufToModelSpec } from './gguf/to-spec.js';
export { writeGguf } from './gguf/writer.js';
export type { GgufTensorInput, GgufWriteOptions, TensorData } from './gguf/writer.js';
export { GgufMetadata } from './gguf/metadata.js';
export { GgufValueType, GGML_TYPES, ggmlTypeInfo, ggmlTypeName } from './gguf/constants.js';
export type { GgmlTypeInfo } from './gguf/constants.js';
export * from './gguf/value.js';

export { readSafetensors, readSafetensorsSync, SAFETENSORS_DTYPES } from './safetensors/reader.js';
export type { SafetensorsFile, SafetensorsTensorInfo } from './safetensors/reader.js';
export { readSafetensorsIndex, SAFETENSORS_INDEX_FILE } from './safetensors/index-file.js';
export type { SafetensorsIndex } from './safetensors/index-file.js';
export { writeSafetensors } from './safetensors/writer.js';
export type { SafetensorsTensorInput } from './safetensors/writer.js';

export { loadHfModelSpec, loadHfModelSpecSync } from './hf/to-spec.js';
export { parseHfConfig, HF_ARCHITECTURES } from './hf/config.js';
export { parseGenerationConfig } from './hf/generation-config.js';
export { canonicalTensorName, hfTensorName } from './hf/tensor-names.js';
export { writeHfModelDir } from './hf/writer.js';
export type { HfModelDirOptions } from './hf/writer.js';

export { writeSyntheticGguf, writeSyntheticHfDir, syntheticModelConfig, syntheticTensorValues } from './synthetic.js';
export type { SyntheticModelOptions } from './synthetic.js';
export { buildSpmVocab, spmVocabMetadata, spmTokenizerFiles, SPM_TOKEN_TYPE } from './synthetic-vocab.js';

export * as quant from './quant/index.js';

export { resolveModelPath, type ResolveModelPathOptions } from './resolve-model-path.js';
export { resolveHubModel } from './hub/resolve-hub-model.js';
export type { HubModelRequest, HubDownloadProgress, ResolveOptions } from './hub/resolve-hub-model.js';
export { hubEnv, type HubEnv } from './hub/hub-env.js';
export { parseModelRef, type ModelRef } from './hub/model-ref.js';
export { ensureDemoModel, demoModelPath, writeDemoGguf, DEMO_MODEL_NAME, DEMO_MODEL_VERSION } from './demo/demo-model.js';
