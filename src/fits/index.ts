/** The FITS reader: headers, HDU offsets, images and binary tables, decoded as astropy.io.fits reads them. */
export { FitsError, type FitsErrorCode } from './errors.js';
export { BLOCK_LENGTH, padToBlock } from './block.js';
export { CARD_LENGTH, parseCard, parseCards, parseNumber, parseValueField, type Card, type CardKind, type CardValue } from './card.js';
export { Header } from './header.js';
export { checkRange, type ByteSource } from './source.js';
export { dataLengthOf, findHdu, MAX_HEADER_BLOCKS, readHduData, scanHdus, type Hdu, type HduKind } from './hdu.js';
export { decodeImage, imageInfo, imageRowsRange, type ImageArray, type ImageInfo } from './image.js';
export { equalsExactly, type NumericArray, type NumericType } from './numeric.js';
export { ELEMENT_BYTES, fieldWidth, parseTdim, parseTform, type Tform, type TformCode } from './tform.js';
export { findColumn, readColumn, requireColumn, tableInfo, type ColumnData, type ColumnType, type TableColumn, type TableInfo } from './bintable.js';
export { aligned, gatherField, int64ToFloat64, LITTLE_ENDIAN, swapInPlace } from './byteorder.js';
