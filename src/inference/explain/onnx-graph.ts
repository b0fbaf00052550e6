// Reading an ONNX model's graph from Node: decode ModelProto with onnx-proto (protobufjs), then look up
// nodes, attributes and initializers by name. Used by the explainers, which compute from the same
// model.onnx that ONNX Runtime serves (one source of truth for predictions and explanations).
import onnxProto from 'onnx-proto';
import type * as OnnxTypes from 'onnx-proto';

const { onnx } = onnxProto;

export type ModelProto = OnnxTypes.onnx.ModelProto;
export type GraphProto = OnnxTypes.onnx.IGraphProto;
export type NodeProto = OnnxTypes.onnx.INodeProto;
export type AttributeProto = OnnxTypes.onnx.IAttributeProto;
export type TensorProto = OnnxTypes.onnx.ITensorProto;

/** An int64 as protobufjs decodes it: a number, or a Long when the `long` package is present. */
type Int64 = number | { toNumber(): number };

/** Error for a model file whose graph is not what an explainer needs (wrong op, missing attribute …). */
export class OnnxGraphError extends Error {
  override name = 'OnnxGraphError';
}

export function int64ToNumber(v: Int64 | null | undefined): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return v;
  const n = v.toNumber();
  if (!Number.isSafeInteger(n)) throw new OnnxGraphError(`int64 value ${String(v)} is not a safe integer`);
  return n;
}

/** Decodes a serialized ModelProto; throws OnnxGraphError (not a protobuf stack) when it cannot. */
export function decodeModel(bytes: Uint8Array): ModelProto {
  try {
    const model = onnx.ModelProto.decode(bytes);
    if (!model.graph) throw new Error('no graph');
    return model;
  } catch (e) {
    throw new OnnxGraphError(`not a readable ONNX model (${(e as Error).message})`);
  }
}

function graphOf(model: ModelProto): GraphProto {
  if (!model.graph) throw new OnnxGraphError('ONNX model has no graph');
  return model.graph;
}

/** The graph's nodes with this op type (and domain, when given). */
export function findNodes(model: ModelProto, opType: string, domain?: string): NodeProto[] {
  return (graphOf(model).node ?? []).filter(
    (n) => n.opType === opType && (domain === undefined || (n.domain ?? '') === domain),
  );
}

/** The single node with this op type; a clear error when there is none or several. */
export function getNode(model: ModelProto, opType: string, domain?: string): NodeProto {
  const nodes = findNodes(model, opType, domain);
  if (nodes.length !== 1) {
    const ops = [...new Set((graphOf(model).node ?? []).map((n) => n.opType))].join(', ') || 'none';
    throw new OnnxGraphError(
      nodes.length === 0
        ? `ONNX graph has no ${opType} node (ops in the graph: ${ops})`
        : `ONNX graph has ${nodes.length} ${opType} nodes; expected exactly one`,
    );
  }
  return nodes[0];
}

export function getAttribute(node: NodeProto, name: string): AttributeProto | undefined {
  return (node.attribute ?? []).find((a) => a.name === name);
}

function required(node: NodeProto, name: string): AttributeProto {
  const a = getAttribute(node, name);
  if (!a) throw new OnnxGraphError(`${node.opType} node '${node.name ?? ''}' has no attribute ${name}`);
  return a;
}

export function attrFloats(node: NodeProto, name: string): number[];
export function attrFloats(node: NodeProto, name: string, optional: true): number[] | undefined;
export function attrFloats(node: NodeProto, name: string, optional = false): number[] | undefined {
  const a = optional ? getAttribute(node, name) : required(node, name);
  return a ? [...(a.floats ?? [])] : undefined;
}

export function attrInts(node: NodeProto, name: string): number[];
export function attrInts(node: NodeProto, name: string, optional: true): number[] | undefined;
export function attrInts(node: NodeProto, name: string, optional = false): number[] | undefined {
  const a = optional ? getAttribute(node, name) : required(node, name);
  return a ? (a.ints ?? []).map((v) => int64ToNumber(v as Int64)) : undefined;
}

const utf8 = new TextDecoder();

export function attrStrings(node: NodeProto, name: string): string[];
export function attrStrings(node: NodeProto, name: string, optional: true): string[] | undefined;
export function attrStrings(node: NodeProto, name: string, optional = false): string[] | undefined {
  const a = optional ? getAttribute(node, name) : required(node, name);
  return a ? (a.strings ?? []).map((s) => utf8.decode(s)) : undefined;
}

export function attrString(node: NodeProto, name: string): string | undefined {
  const a = getAttribute(node, name);
  return a?.s ? utf8.decode(a.s) : undefined;
}

export function attrTensor(node: NodeProto, name: string): TensorProto | undefined {
  return getAttribute(node, name)?.t ?? undefined;
}

export function tensorDims(t: TensorProto): number[] {
  return (t.dims ?? []).map((d) => int64ToNumber(d as Int64));
}

/** A tensor's values as float32: FLOAT via raw_data (little-endian) or float_data; DOUBLE and BOOL too. */
export function tensorToFloat32(t: TensorProto): Float32Array {
  const dims = tensorDims(t);
  const size = dims.reduce((a, b) => a * b, 1);
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
  const view = raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : undefined;
  const out = new Float32Array(size);
  const check = (n: number, what: string) => {
    if (n !== size) throw new OnnxGraphError(`tensor ${t.name ?? ''}: ${what} has ${n} values, dims ${JSON.stringify(dims)} need ${size}`);
  };
  switch (t.dataType) {
    case onnx.TensorProto.DataType.FLOAT:
      if (view) {
        check(view.byteLength / 4, 'raw_data');
        for (let i = 0; i < size; i++) out[i] = view.getFloat32(i * 4, true);
      } else {
        check(t.floatData?.length ?? 0, 'float_data');
        out.set(t.floatData!);
      }
      return out;
    case onnx.TensorProto.DataType.DOUBLE:
      if (view) {
        check(view.byteLength / 8, 'raw_data');
        for (let i = 0; i < size; i++) out[i] = view.getFloat64(i * 8, true);
      } else {
        check(t.doubleData?.length ?? 0, 'double_data');
        out.set(t.doubleData!);
      }
      return out;
    case onnx.TensorProto.DataType.BOOL:
    case onnx.TensorProto.DataType.UINT8:
      if (raw) {
        check(raw.length, 'raw_data');
        for (let i = 0; i < size; i++) out[i] = raw[i];
      } else {
        check(t.int32Data?.length ?? 0, 'int32_data');
        out.set(t.int32Data!);
      }
      return out;
    default:
      throw new OnnxGraphError(`tensor ${t.name ?? ''}: data type ${t.dataType ?? 'undefined'} is not supported here`);
  }
}

export function getInitializerTensor(model: ModelProto, name: string): TensorProto {
  const t = (graphOf(model).initializer ?? []).find((i) => i.name === name);
  if (!t) throw new OnnxGraphError(`ONNX graph has no initializer named ${name}`);
  return t;
}

/** Initializer values as Float32Array (row-major), with its dims. */
export function getInitializer(model: ModelProto, name: string): { dims: number[]; data: Float32Array } {
  const t = getInitializerTensor(model, name);
  return { dims: tensorDims(t), data: tensorToFloat32(t) };
}

/**
 * The declared shape of a graph input (initializers excluded): numbers for fixed dims, strings for
 * symbolic ones ('N'), null when the dim is unknown. Undefined when there is no such input.
 */
export function inputShape(model: ModelProto, name: string): Array<number | string | null> | undefined {
  const vi = (graphOf(model).input ?? []).find((i) => i.name === name);
  const dims = vi?.type?.tensorType?.shape?.dim;
  if (!dims) return undefined;
  return dims.map((d) => {
    if (d.dimParam) return d.dimParam;
    const v = d.dimValue === null || d.dimValue === undefined ? 0 : int64ToNumber(d.dimValue as Int64);
    return v > 0 ? v : null;
  });
}

/** The names of the graph's real inputs (not initializers). */
export function inputNames(model: ModelProto): string[] {
  const graph = graphOf(model);
  const inits = new Set((graph.initializer ?? []).map((i) => i.name));
  return (graph.input ?? []).map((i) => i.name ?? '').filter((n) => !inits.has(n));
}
