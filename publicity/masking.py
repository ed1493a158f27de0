"""Masking personal data for public pages (PIPL: minimum necessity).  Pure.

Names keep the surname and mask the given name: 张*明, 李*, 欧阳**.  Compound surnames
(欧阳, 司马, …) are kept whole.  Names with a middle dot (阿卜杜·热合曼) keep the first
character of the first part only.  ID numbers and mobile numbers keep a prefix and a
suffix: 110105********1234, 138****5678.
"""

from __future__ import annotations

#: Two-character surnames (复姓) kept whole; the list covers the common ones.
COMPOUND_SURNAMES = frozenset({
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "长孙",
    "宇文", "司徒", "夏侯", "轩辕", "端木", "澹台", "西门", "南宫", "独孤", "百里", "呼延",
    "申屠", "太史", "闻人", "公羊", "赫连", "钟离", "万俟", "司空", "第五", "拓跋",
})
MASK = "*"
_DOTS = "·•‧・."


def mask_name(name: str) -> str:
    """The name with the given name masked: 张三丰 -> 张*丰, 李四 -> 李*, 欧阳娜娜 -> 欧阳**."""
    name = name.strip()
    if not name:
        return ""
    for dot in _DOTS:
        if dot in name:
            first, *rest = name.split(dot)
            head = first[:1] + MASK * max(len(first) - 1, 1)
            return "·".join([head, *(MASK * len(part) for part in rest)])
    if len(name) >= 3 and name[:2] in COMPOUND_SURNAMES:
        return name[:2] + MASK * (len(name) - 2)
    if len(name) == 1:
        return name + MASK
    if len(name) == 2:
        return name[0] + MASK
    if len(name) == 3:
        return name[0] + MASK + name[2]
    return name[0] + MASK * (len(name) - 1)


def mask_id_number(id_number: str) -> str:
    """110105199001011234 -> 110105********1234."""
    return id_number[:6] + MASK * max(len(id_number) - 10, 0) + id_number[-4:]


def mask_phone(phone: str) -> str:
    """13812345678 -> 138****5678."""
    return phone[:3] + MASK * max(len(phone) - 7, 0) + phone[-4:]
