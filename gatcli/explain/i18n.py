"""The words of ``gat explain`` in English and Chinese (``--lang zh``; the tutorial is Chinese).

Formulas are the same in both languages and live with the renderer; here are titles, labels
and explanations, as ``str.format`` templates.
"""

from __future__ import annotations

LANGUAGES = ("en", "zh")
#: each language's name in English (for messages)
LANGUAGE_NAMES = {"en": "English", "zh": "Chinese"}

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "intro_tutorial": "The tutorial's worked example (gat-tutorial.txt): 4 nodes, adjacency "
                          "A with self-loops (row i = the nodes i attends to), X, W and W_att "
                          "drawn after np.random.seed(0); one GAT layer, 1 head, 2 features.",
        "intro_tutorial_graph": "The tutorial's 4-node graph and features X "
                                "(gat-tutorial.txt) with the model of the options.",
        "intro_files": "{graph} and {features}: {nodes} nodes, {edges} edges read.",
        "layer": "Layer {layer} (of {layers}, numbered from 0): {kind}, {heads} head(s) x "
                 "{out_dim} features, heads {combine}, LeakyReLU slope {slope}, {extras}; "
                 "{edges} edges into {nodes} nodes ({loops}).",
        "combine_concat": "concatenated",
        "combine_mean": "averaged",
        "loops_on": "self-loops added",
        "loops_off": "no self-loops added",
        "extras": "bias: {bias}, residual: {residual}, activation: {activation}",
        "yes": "yes",
        "no": "no",
        "head_note": "Head {head} of {heads} (choose with --head).",
        "step": "Step",
        "title_linear": "linear: transform every node's features",
        "title_concat": "concat: the target's and the source's vector side by side",
        "title_concat_v2": "concat: the target's and the source's vectors, summed",
        "title_scores": "scores: one raw attention score per edge",
        "title_scores_v2": "scores: one attention score per edge",
        "title_leaky_relu": "leaky_relu: the nonlinearity on the scores",
        "title_leaky_relu_v2": "leaky_relu: the nonlinearity on the pair vectors",
        "title_mask": "mask: the scores as a matrix, non-edges masked",
        "title_softmax": "softmax: attention of each node over its in-neighbours",
        "title_aggregate": "aggregate: attention-weighted sum of the neighbours' vectors",
        "title_heads": "heads: combine the heads",
        "title_output": "output: residual, bias and activation",
        "shapes": "shapes",
        "rows": "row = node",
        "edge_rows": "row = edge j -> i (i attends to j)",
        "matrix_rows": "row i = target, column j = source",
        "more_rows": "... {more} more rows",
        "more_cols": "showing {shown} of {total} columns",
        "summary": "{name}: shape {shape}, min {min}, mean {mean}, max {max}",
        "masked": "masked",
        "mask_note": "Non-edges are masked, not 0: the softmax gives them no weight.",
        "mask_large": "As a matrix E would be {nodes} x {nodes} with {edges} entries set "
                      "(in-degree min {dmin}, mean {dmean}, max {dmax}); every other entry is "
                      "masked. Use --node ID to see one row.",
        "tutorial_zero": "The tutorial's E (Out[13]) writes 0 at the non-edges instead; its "
                         "softmax then counts them (see softmax).",
        "duplicates": "The graph has duplicate edges: each has its own alpha; the matrix shows "
                      "their sum.",
        "row_sums": "Every row sums to 1 over the node's in-neighbours.",
        "legend_values": "0 = not an edge",
        "legend_colour": "darker = more attention, blank = not an edge",
        "legend_shades": "more ink = more attention, '.' = not an edge",
        "attention_large": "First rows, each node's highest attention (use --node ID for one "
                           "node):",
        "same_as_tutorial": "Same as the tutorial's {what} (largest difference {diff}).",
        "tutorial_label": "tutorial's",
        "correct_label": "correct",
        "tutorial_walpha": "The tutorial's W_alpha (Out[16]) next to the correct attention:",
        "tutorial_h": "The correct output next to the tutorial's H (Out[17]):",
        "differs": "wrong",
        "same": "= correct",
        "mistake1": "Tutorial's mistake 1 (softmax): its softmax2D normalises each whole row of "
                    "E, where the non-edges hold a score of 0 instead of being left out, so "
                    "nodes that are not neighbours take a share: row 1 gives {w12} to node 2 and "
                    "{w13} to node 3, although neither has an edge to node 1. GAT normalises "
                    "over the in-neighbours of i only (a non-edge counts as -inf, weight 0), so "
                    "row 1 is [{row1}].",
        "static": "Rows {i} and {k} are equal{rounding}: both nodes have the in-neighbours "
                  "{{{nbrs}}}, "
                  "their scores are all positive so LeakyReLU leaves them unchanged, and s_{i}j "
                  "- s_{k}j = a_dst . (Wh_{i} - Wh_{k}) = {shift} for every j, a shift of the "
                  "whole row that softmax ignores. So GAT ranks the neighbours j by a_src . Wh_j "
                  "alone, the same for every target: its \"static attention\", which GATv2 fixes "
                  "by applying LeakyReLU before the dot product with a. See it with "
                  "gat explain --layer-type gatv2 --layers 1 --out-dim 2 --step softmax: a "
                  "seeded GATv2 layer (1 head, 2 features) on this graph, where rows {i} and "
                  "{k} differ.",
        "equal_digits": " to {digits} significant digits",
        "mistake2": "Tutorial's mistake 2 (aggregate): it computes H = A.T @ W_alpha @ X @ W.T, "
                    "and the extra factor A.T makes row i of H the sum of the aggregates of "
                    "every node that attends to i instead of node i's own aggregate (on top of "
                    "the wrong W_alpha). GAT's output is H = alpha @ (X W^T): node i's new "
                    "vector is the alpha-weighted average of its in-neighbours' Wh_j, as in the "
                    "first columns.",
        "node_intro": "Node {node} (layer {layer}, head {head}): {degree} in-neighbour(s); the "
                      "other {masked} entries of its row are masked.",
        "node_sorted": "in-neighbours j by attention, highest first",
        "node_more": "... {more} more in-neighbours (sum of their alpha {rest})",
        "node_none": "Node {node} has no in-edges in this layer: its aggregate is zero.",
        "dst_term": "a_dst . Wh_i = {value} (the same for all of node {node}'s edges)",
        "col_node": "node",
        "col_target": "i",
        "col_source": "j",
        "col_alpha": "alpha_ij",
        "layer_rule": "Layer {layer}",
        "activation_none": "none",
        "shape_values": "values",
        "per_head": "per head",
        "sentence_sep": ". ",
        "clause_sep": "; ",
        "cell": " (Out[{n}])",
        "f_gat_linear": "Wh_i = W x_i for every node i (Wh = X W^T)",
        "f_gat_concat": "[Wh_i ‖ Wh_j] for every edge j → i (node i attends to node j)",
        "f_gat_scores": "s_ij = a · [Wh_i ‖ Wh_j] = a_dst · Wh_i + a_src · Wh_j",
        "f_gat_leaky_relu": "e_ij = LeakyReLU(s_ij) = max(s_ij, {slope} · s_ij)",
        "f_gat_aggregate": "out_i = Σ_{{j→i}} α_ij Wh_j (H = α · X W^T)",
        "f_gatv2_linear": "W_l x_j (source side, the messages) and W_r x_i (target side)",
        "f_gatv2_concat": "z_ij = W_r x_i + W_l x_j (= W [x_i ‖ x_j]) for every edge j → i",
        "f_gatv2_leaky_relu": "LeakyReLU(z_ij) = max(z_ij, {slope} · z_ij), before the dot "
                              "product",
        "f_gatv2_scores": "e_ij = a · LeakyReLU(z_ij)",
        "f_gatv2_aggregate": "out_i = Σ_{{j→i}} α_ij W_l x_j",
        "f_any_mask": "E_ij = e_ij if j → i is an edge, else masked (-∞ in the softmax)",
        "f_any_softmax": "α_ij = exp(e_ij) / Σ_{{k→i}} exp(e_ik), k over the in-neighbours of i",
        "f_any_heads_concat": "h_i = out_i^1 ‖ … ‖ out_i^H (heads concatenated)",
        "f_any_heads_mean": "h_i = (1/H) Σ_h out_i^h (heads averaged)",
    },
    "zh": {
        "intro_tutorial": "教程中的例子（gat-tutorial.txt）：4 个节点，带自环的邻接矩阵 A（第 i "
                          "行 = 节点 i 关注的节点），X、W 和 W_att 在 np.random.seed(0) "
                          "之后随机生成；一层 GAT，1 个头，2 个特征。",
        "intro_tutorial_graph": "教程中的 4 个节点的图和特征 X（gat-tutorial.txt），"
                                "模型由选项给出。",
        "intro_files": "{graph} 和 {features}：读入 {nodes} 个节点、{edges} 条边。",
        "layer": "第 {layer} 层（共 {layers} 层）：{kind}，{heads} 个头 x {out_dim} "
                 "个特征，多头{combine}，LeakyReLU 斜率 {slope}，{extras}；{nodes} 个节点的 "
                 "{edges} 条入边（{loops}）。",
        "combine_concat": "拼接",
        "combine_mean": "平均",
        "loops_on": "已加自环",
        "loops_off": "未加自环",
        "extras": "偏置 {bias}，残差 {residual}，激活函数 {activation}",
        "yes": "有",
        "no": "无",
        "head_note": "显示第 {head} 个头（共 {heads} 个，用 --head 选择）。",
        "step": "步骤",
        "title_linear": "线性变换（--step linear）：对每个节点的特征做线性变换",
        "title_concat": "拼接（--step concat）：目标节点与源节点的隐藏向量首尾相连",
        "title_concat_v2": "拼接（--step concat）：目标节点与源节点的向量相加",
        "title_scores": "注意力分数（--step scores）：每条边一个注意力分数的原始值",
        "title_scores_v2": "注意力分数（--step scores）：每条边一个注意力分数",
        "title_leaky_relu": "激活函数（--step leaky_relu）：对注意力分数的原始值应用 LeakyReLU",
        "title_leaky_relu_v2": "激活函数（--step leaky_relu）：对节点对的向量应用 LeakyReLU",
        "title_mask": "掩码（--step mask）：把分数放进矩阵，非边被屏蔽",
        "title_softmax": "Softmax 归一化（--step softmax）：每个节点在其入邻居上的注意力",
        "title_aggregate": "聚合（--step aggregate）：邻居的向量按注意力加权求和",
        "title_heads": "多头注意力（--step heads）：合并各个头",
        "title_output": "输出（--step output）：残差、偏置和激活函数",
        "shapes": "形状",
        "rows": "行 = 节点",
        "edge_rows": "行 = 边 j -> i（i 关注 j）",
        "matrix_rows": "第 i 行 = 目标节点，第 j 列 = 源节点",
        "more_rows": "…… 另有 {more} 行",
        "more_cols": "显示 {total} 列中的 {shown} 列",
        "summary": "{name}：形状 {shape}，最小 {min}，平均 {mean}，最大 {max}",
        "masked": "屏蔽",
        "mask_note": "非边被屏蔽而不是 0：softmax 不给它们任何权重。",
        "mask_large": "作为矩阵 E 是 {nodes} x {nodes}，只有 {edges} 个元素有值（入度最小 "
                      "{dmin}，平均 {dmean}，最大 {dmax}），其余全部被屏蔽。用 --node ID "
                      "查看其中一行。",
        "tutorial_zero": "教程的 E（In [13] 的输出）在非边处写的是 0；它的 softmax 随后把这些 0 "
                         "也算了进去（见 Softmax 归一化一步）。",
        "duplicates": "图中有重复的边：每条边有自己的 alpha；矩阵中显示它们的和。",
        "row_sums": "每一行在该节点的入邻居上之和为 1。",
        "legend_values": "0 = 不是边",
        "legend_colour": "颜色越深 = 注意力越大，空白 = 不是边",
        "legend_shades": "字符越浓 = 注意力越大，'.' = 不是边",
        "attention_large": "前几行，每个节点注意力最大的邻居（用 --node ID 查看单个节点）：",
        "same_as_tutorial": "与教程的 {what} 相同（最大差 {diff}）。",
        "tutorial_label": "教程",
        "correct_label": "正确",
        "tutorial_walpha": "教程的 W_alpha（In [16] 的输出）与正确的注意力对照：",
        "tutorial_h": "正确的输出与教程的 H（In [17] 的输出）对照：",
        "differs": "错误",
        "same": "= 正确",
        "mistake1": "教程的错误 1（Softmax 归一化）：它的 softmax2D 对 E "
                    "的整行做归一化，而非边处的分数是 0 而不是被排除，所以不是邻居的节点也分到了"
                    "注意力：第 1 行给节点 2 {w12}、给节点 3 {w13}，可这两个节点都没有指向节点 1 "
                    "的边。GAT 只在 i 的入邻居上归一化（非边视为 -∞，权重为 0），所以第 1 行是 "
                    "[{row1}]。",
        "static": "第 {i} 行和第 {k} 行相同{rounding}：两个节点的入邻居都是 "
                  "{{{nbrs}}}，它们的分数全为正，LeakyReLU 不改变它们，而且对每个 j 都有 s_{i}j "
                  "- s_{k}j = a_dst . (Wh_{i} - Wh_{k}) = {shift}，这是整行的平移，softmax "
                  "不受影响。因此 GAT 对邻居 j 的排序只取决于 a_src . "
                  "Wh_j，对所有目标节点都一样：这就是 GAT 的“静态注意力”，GATv2 通过在与 a "
                  "做点积之前先应用 LeakyReLU 解决了它。运行 "
                  "gat explain --layer-type gatv2 --layers 1 --out-dim 2 --step softmax "
                  "可以看到：同一个图上一个随机初始化的 GATv2 层（1 个头，2 个特征），"
                  "第 {i} 行和第 {k} 行不再相同。",
        "equal_digits": "（前 {digits} 位有效数字相同）",
        "mistake2": "教程的错误 2（聚合）：它计算 H = A.T @ W_alpha @ X @ W.T，多出来的 A.T "
                    "使 H 的第 i 行变成所有关注 i 的节点的聚合结果之和，而不是节点 i "
                    "自己的聚合结果（何况 W_alpha 本身也是错的）。GAT 的输出是 H = alpha @ (X "
                    "W^T)：节点 i 的新向量是其入邻居 Wh_j 按 alpha 加权的平均，即前几列。",
        "node_intro": "节点 {node}（第 {layer} 层，第 {head} 个头）：{degree} "
                      "个入邻居；其所在行的其余 {masked} 个元素被屏蔽。",
        "node_sorted": "入邻居 j 按注意力从大到小排列",
        "node_more": "…… 另有 {more} 个入邻居（它们的 alpha 之和 {rest}）",
        "node_none": "节点 {node} 在这一层没有入边：它的聚合结果为零。",
        "dst_term": "a_dst . Wh_i = {value}（节点 {node} 的所有入边都相同）",
        "col_node": "节点",
        "col_target": "i",
        "col_source": "j",
        "col_alpha": "alpha_ij",
        "layer_rule": "第 {layer} 层",
        "activation_none": "无",
        "shape_values": "值",
        "per_head": "每个头",
        "sentence_sep": "。",
        "clause_sep": "；",
        "cell": "（In [{n}] 的输出）",
        "f_gat_linear": "Wh_i = W x_i，对每个节点 i（Wh = X W^T）",
        "f_gat_concat": "[Wh_i ‖ Wh_j]，对每条边 j → i（节点 i 关注节点 j）",
        "f_gat_scores": "s_ij = a · [Wh_i ‖ Wh_j] = a_dst · Wh_i + a_src · Wh_j",
        "f_gat_leaky_relu": "e_ij = LeakyReLU(s_ij) = max(s_ij, {slope} · s_ij)",
        "f_gat_aggregate": "out_i = Σ_{{j→i}} α_ij Wh_j（H = α · X W^T）",
        "f_gatv2_linear": "W_l x_j（源节点一侧，即消息）和 W_r x_i（目标节点一侧）",
        "f_gatv2_concat": "z_ij = W_r x_i + W_l x_j（= W [x_i ‖ x_j]），对每条边 j → i",
        "f_gatv2_leaky_relu": "LeakyReLU(z_ij) = max(z_ij, {slope} · z_ij)，在与 a 做点积之前",
        "f_gatv2_scores": "e_ij = a · LeakyReLU(z_ij)",
        "f_gatv2_aggregate": "out_i = Σ_{{j→i}} α_ij W_l x_j",
        "f_any_mask": "E_ij = e_ij（若 j → i 是边），否则屏蔽（softmax 中为 -∞）",
        "f_any_softmax": "α_ij = exp(e_ij) / Σ_{{k→i}} exp(e_ik)，k 取遍 i 的入邻居",
        "f_any_heads_concat": "h_i = out_i^1 ‖ … ‖ out_i^H（多头拼接）",
        "f_any_heads_mean": "h_i = (1/H) Σ_h out_i^h（多头平均）",
    },
}


def message(lang: str, key: str, **values: object) -> str:
    """The text ``key`` in ``lang`` (English when missing there), filled with ``values``."""
    template = MESSAGES.get(lang, MESSAGES["en"]).get(key) or MESSAGES["en"][key]
    return template.format(**values) if values else template.replace("{{", "{").replace(
        "}}", "}")
