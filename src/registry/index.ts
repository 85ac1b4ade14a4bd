/** The pure core: documents → model → target groups. No I/O. Exports only what other layers import. */
export { classifyKey, cleanPrefix, GROUP_NAME_RULE, groupKey, groupPrefix, isValidGroupName, nodeKey } from './keys.js';
export {
  checkLabels,
  DEFAULT_LABEL_POLICY,
  DEFAULT_PROTECTED_LABELS,
  isProtectedLabel,
  isValidLabelName,
  protectedLabelProblem,
  protectedLabelsIn,
  sanitizeLabelName,
  sanitizeLabels,
} from './labels.js';
export type { LabelPolicy, LabelStep } from './labels.js';
export {
  formatGoTime,
  formatGroupDocument,
  formatNodeDocument,
  INVALID_REASONS,
  isHeartbeatText,
  isRfc3339,
  parseGroupDocument,
  parseNodeDocument,
} from './documents.js';
export type { GroupDocument, InvalidReason, NodeDocument, NodeDocumentInput } from './documents.js';
export { buildTargetGroup, renderNodeTarget, renderTargetGroup, resolveAddress, traceAddress } from './target.js';
export type { AddressRule, CommonLabels, TargetGroup } from './target.js';
export { contentHash } from './group-view.js';
export type { GroupView, NodeRenderer, RenderedChunk, RenderedNode } from './group-view.js';
export { Content, fragmentsOf, renderArray, served } from './content.js';
export type { Served, ServedSource } from './content.js';
export { RegistryState, RENDER_FAILURE_REASONS } from './state.js';
export type { Change, InvalidDocument, ProtectedLabelCount, RenderFailure, StateHooks } from './state.js';
export { printableKey } from './raw-key.js';
export { DEFAULT_DOCUMENT_LIMITS } from './limits.js';
export type { DocumentLimits } from './limits.js';
