//! Aligned plain-text tables for the listing commands: columns padded to their widest cell,
//! two spaces apart, no trailing blanks, so the output reads well and splits on white space.

/// Prints `header` and `rows` as an aligned table on standard output.
pub(crate) fn print<const N: usize>(header: [&str; N], rows: &[[String; N]]) {
    let header = header.map(str::to_owned);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(widths) {
            line.push_str(cell);
            line.extend(std::iter::repeat_n(' ', width - cell.chars().count() + 2));
        }
        println!("{}", line.trim_end());
    }
}
